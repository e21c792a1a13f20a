package runs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"qvt/internal/download"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
)

func TestErrKind(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("sync: %w", &qualys.Error{Endpoint: "/msp/about.php", Status: 401, Msg: "401 Unauthorized"}), "auth"},
		{&nvd.Error{Status: 403, Msg: "403: the API key was refused"}, "auth"},
		{fmt.Errorf("kb: %w", &qualys.Error{Status: 409, Code: 1965, Msg: "rate limit", Attempts: 5}), "rate_limit"},
		{&nvd.Error{Status: 429, Msg: "too many requests"}, "rate_limit"},
		{&download.Error{URL: "https://epss.example/x.csv.gz", Status: 503, Msg: "503"}, "server"},
		{fmt.Errorf("sync: %w", &qualys.Error{Msg: "no answer", Err: refused}), "network"},
		{fmt.Errorf("nvd: %w", &nvd.FormatError{}), "format"},
		{fmt.Errorf("kb: %w", &qualys.SyntaxError{}), "format"},
		{errors.New("store: commit: disk I/O error"), "store"},
		{fmt.Errorf("detections: %w", errors.New("store: begin: database is locked")), "store"},
		{fmt.Errorf("sync: %w", context.Canceled), "interrupted"},
		{errors.New("jira: flood guard"), "other"},
	} {
		if got := ErrKind(c.err); got != c.want {
			t.Errorf("ErrKind(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
