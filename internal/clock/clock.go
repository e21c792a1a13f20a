// Package clock is qvt's "now". Every command reads today from here, so
// that QVT_NOW (an RFC 3339 time) can set it: tests drive expiry and
// deadlines with it, and a user reruns a report as of a date.
package clock

import (
	"fmt"
	"os"
	"time"
)

// Env is the variable that overrides the clock.
const Env = "QVT_NOW"

// Parse reads a QVT_NOW value: "" is the real clock (ok, zero time).
func Parse(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time (e.g. 2027-04-01T00:00:00Z)", Env, v)
	}
	return t, nil
}

// Check reports a QVT_NOW that does not parse; commands refuse to run
// with one rather than fall back to the real clock unseen.
func Check() error {
	_, err := Parse(os.Getenv(Env))
	return err
}

// Now is QVT_NOW when it is set (and valid), else the real time. It reads
// the variable on each call: tests set it per case.
func Now() time.Time {
	if t, err := Parse(os.Getenv(Env)); err == nil && !t.IsZero() {
		return t
	}
	return time.Now()
}

// Today is Now's UTC date, YYYY-MM-DD: deadlines, due dates and expiry
// dates are UTC dates throughout qvt.
func Today() string {
	return Now().UTC().Format(time.DateOnly)
}
