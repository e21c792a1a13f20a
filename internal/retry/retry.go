// Package retry holds how qvt's API clients (Qualys, NVD, Jira and
// Assets) wait between attempts: sleeps that end with their context, and
// capped exponential backoff with full jitter, so that many clients that
// failed together do not retry together.
package retry

import (
	"context"
	"math/rand/v2"
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

// Backoff is the wait before attempt (1 for the first retry): uniform in
// [0, min(max, base·2^(attempt-1))].
func Backoff(base, max time.Duration, attempt int) time.Duration {
	ceil := max
	if attempt >= 1 && attempt-1 < 30 {
		if d := base << (attempt - 1); d > 0 && d < max {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}
