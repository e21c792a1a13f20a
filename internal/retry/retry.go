// Package retry holds what qvt's API clients (Qualys, NVD, Jira and
// Assets) share about talking to a server that may fail: sleeps that end
// with their context, one capped exponential backoff with jitter (so that
// many clients that failed together do not retry together), how long to
// keep trying a server that cannot be reached, and a redirect policy that
// never sends a credential to another origin.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"
)

// Sleep waits d, or until ctx is done (returning its error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ceiling is the longest wait before attempt (1 for the first retry):
// base·2^(attempt-1), capped at max.
func Ceiling(base, max time.Duration, attempt int) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	if attempt >= 1 && attempt-1 < 30 {
		if d := base << (attempt - 1); d > 0 && d < max {
			return d
		}
	}
	return max
}

// Backoff is the wait before attempt (1 for the first retry): drawn
// uniformly from [c/2, c], where c = Ceiling(base, max, attempt). Half the
// ceiling is always waited, so retries back off however the draw falls;
// the other half is jitter.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	c := Ceiling(base, max, attempt)
	if c <= 0 {
		return 0
	}
	return c/2 + rand.N(c-c/2+1)
}

// DefaultConnectBudget is how long a client keeps trying a server it
// cannot reach (connection refused, unknown host, no route) before it
// gives up: long enough for a restart or a DNS hiccup, short enough that a
// wrong URL fails at once.
const DefaultConnectBudget = 10 * time.Second

// DefaultMaxWait is the longest wait a server may ask for (rate limits,
// Retry-After) before the client fails instead of sleeping.
const DefaultMaxWait = 10 * time.Minute

// DefaultBodyTimeout bounds the time spent waiting for the bytes of one
// response body, in all (the time the caller spends on what it received
// is not counted).
const DefaultBodyTimeout = 30 * time.Minute

// IsConnect tells whether err is a failure to reach the server at all: a
// failed DNS lookup or a connection that could not be made (to the server
// or its proxy). The request was not sent.
func IsConnect(err error) bool {
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	op, ok := errors.AsType[*net.OpError](err)
	return ok && (op.Op == "dial" || op.Op == "proxyconnect")
}
