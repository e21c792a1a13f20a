package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		c    Config
		from time.Time
		next string // RFC 3339 in UTC, or the error's words
		err  bool
	}{
		{c: Config{Run: "0 2 * * *"}, from: at, next: "2026-12-06T02:00:00Z"},
		{c: Config{Run: "@daily"}, from: at, next: "2026-12-06T00:00:00Z"},
		{c: Config{Run: "@hourly"}, from: at, next: "2026-12-05T13:00:00Z"},
		{c: Config{Run: "@every 6h"}, from: at, next: "2026-12-05T18:00:00Z"},
		{c: Config{Run: "30 1 * * 1-5"}, from: at, next: "2026-12-07T01:30:00Z"}, // a Saturday: Monday next
		{c: Config{Run: "0 2 * * *", Timezone: "Europe/Paris"}, from: at, next: "2026-12-06T01:00:00Z"},
		{c: Config{Run: "CRON_TZ=America/New_York 0 2 * * *"}, from: at, next: "2026-12-06T07:00:00Z"},
		{c: Config{Run: "TZ=Asia/Tokyo 0 2 * * *", Timezone: "Europe/Paris"}, from: at, next: "2026-12-05T17:00:00Z"},
		// The night summer time starts in Paris (29 March 2026, 02:00
		// becomes 03:00): 02:30 does not exist that day; the next is the
		// 30th's.
		{c: Config{Run: "30 2 * * *", Timezone: "Europe/Paris"}, from: time.Date(2026, 3, 28, 12, 0, 0, 0, paris), next: "2026-03-30T00:30:00Z"},
		// The night it ends (25 October 2026, 03:00 becomes 02:00): 02:30
		// happens twice, and fires at the first; the next is the 26th's.
		{c: Config{Run: "30 2 * * *", Timezone: "Europe/Paris"}, from: time.Date(2026, 10, 24, 12, 0, 0, 0, paris), next: "2026-10-25T00:30:00Z"},
		{c: Config{Run: "30 2 * * *", Timezone: "Europe/Paris"}, from: time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), next: "2026-10-26T01:30:00Z"},
		{c: Config{Run: "30 3 * * *", Timezone: "Europe/Paris"}, from: time.Date(2026, 10, 24, 12, 0, 0, 0, paris), next: "2026-10-25T02:30:00Z"},
		{c: Config{Run: "@every 30m"}, from: at, next: "2026-12-05T12:30:00Z"},

		{c: Config{Run: ""}, err: true, next: "--schedule: empty"},
		{c: Config{Run: "0 2 * *"}, err: true, next: `--schedule "0 2 * *": expected exactly 5 fields`},
		{c: Config{Run: "0 2 * * * *"}, err: true, next: `--schedule "0 2 * * * *": expected exactly 5 fields`},
		{c: Config{Run: "61 2 * * *"}, err: true, next: `--schedule "61 2 * * *": end of range (61) above maximum (59)`},
		{c: Config{Run: "@nightly"}, err: true, next: `--schedule "@nightly": unrecognized descriptor`},
		{c: Config{Run: "@every 10s"}, err: true, next: `--schedule "@every 10s": runs must be 1m0s apart or more`},
		{c: Config{Run: "@daily", Timezone: "Mars/Olympus"}, err: true, next: `schedule.timezone "Mars/Olympus": not an IANA time zone`},
		{c: Config{Run: "@daily", Timezone: "Local"}, err: true, next: `schedule.timezone "Local": not an IANA time zone`},
		{c: Config{Run: "CRON_TZ=Nowhere 0 2 * * *"}, err: true, next: `--schedule "CRON_TZ=Nowhere 0 2 * * *": "Nowhere" is not an IANA time zone`},
		{c: Config{Run: "@daily", Jitter: -time.Minute}, err: true, next: "schedule.jitter -1m0s: must be 0 or more"},
	} {
		s, err := Parse(tc.c, "--schedule")
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.next) {
				t.Errorf("Parse(%+v): error %v, want one saying %q", tc.c, err, tc.next)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%+v): %v", tc.c, err)
			continue
		}
		if got := s.Next(tc.from).UTC().Format(time.RFC3339); got != tc.next {
			t.Errorf("Parse(%+v).Next(%v) = %s, want %s", tc.c, tc.from, got, tc.next)
		}
	}
}

// The configuration's section is checked even without run: a zone
// mistyped in the file is found when qvt starts, not at the first serve.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c   Config
		err string
	}{
		{Config{}, ""},
		{Config{Timezone: "Europe/Berlin"}, ""},
		{Config{Run: "0 3 * * *", Timezone: "UTC", Jitter: time.Hour}, ""},
		{Config{Timezone: "Berlin"}, `schedule.timezone "Berlin"`},
		{Config{Jitter: -1}, "schedule.jitter"},
		{Config{Run: "daily"}, `schedule.run "daily"`},
	} {
		err := tc.c.Validate()
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v.Validate() = %v, want %q", tc.c, err, tc.err)
		}
	}
}
