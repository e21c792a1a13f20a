package runs

import (
	"context"
	"errors"
	"net"
	"strings"

	"qvt/internal/download"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
)

// ErrKind sorts a phase's error into the few kinds an alert rule or a
// dashboard tells apart (qvt_phase_errors_total{kind}): "auth" (the
// credentials were refused), "rate_limit" (the API said too many calls
// and retries ran out), "server" (5xx), "network" (no answer), "format"
// (an answer qvt cannot read), "store", "interrupted", or "other".
func ErrKind(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	status := 0
	if e, ok := errors.AsType[*qualys.Error](err); ok {
		status = e.Status
	} else if e, ok := errors.AsType[*nvd.Error](err); ok {
		status = e.Status
	} else if e, ok := errors.AsType[*download.Error](err); ok {
		status = e.Status
	}
	switch {
	case status == 401 || status == 403:
		return "auth"
	case status == 409 || status == 429:
		return "rate_limit"
	case status >= 500:
		return "server"
	}
	if _, ok := errors.AsType[*qualys.SyntaxError](err); ok {
		return "format"
	}
	if _, ok := errors.AsType[*nvd.FormatError](err); ok {
		return "format"
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return "network"
	}
	if strings.HasPrefix(err.Error(), "store:") || strings.Contains(err.Error(), ": store:") {
		return "store"
	}
	return "other"
}
