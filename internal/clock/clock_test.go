package clock

import (
	"testing"
	"time"
)

func TestNowFollowsQVTNow(t *testing.T) {
	t.Setenv(Env, "2027-04-01T10:00:00+02:00")
	if got := Now(); !got.Equal(time.Date(2027, 4, 1, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("Now = %v", got)
	}
	if got := Today(); got != "2027-04-01" {
		t.Fatalf("Today = %q", got)
	}
	t.Setenv(Env, "2027-04-01T23:30:00-02:00") // already the 2nd in UTC
	if got := Today(); got != "2027-04-02" {
		t.Fatalf("Today = %q, want the UTC date", got)
	}
}

func TestUnsetIsTheRealClock(t *testing.T) {
	t.Setenv(Env, "")
	if d := time.Since(Now()); d < 0 || d > time.Minute {
		t.Fatalf("Now is %v away from the real clock", d)
	}
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

func TestBadValueIsRefused(t *testing.T) {
	t.Setenv(Env, "2027-04-01")
	err := Check()
	if err == nil || err.Error() != `QVT_NOW: "2027-04-01" is not an RFC 3339 time (e.g. 2027-04-01T00:00:00Z)` {
		t.Fatalf("Check = %v", err)
	}
	if d := time.Since(Now()); d < 0 || d > time.Minute {
		t.Fatalf("a bad value must not move the clock: %v", d)
	}
}
