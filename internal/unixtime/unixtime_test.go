package unixtime

import (
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"1970-01-01T00:00:00Z", "2022-04-26T04:00:51Z", "2000-02-29T23:59:59Z", "2100-03-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-11-26T20:57:28Z"} {
		got, ok := Parse(s)
		want, _ := time.Parse(time.RFC3339, s)
		if !ok || got != want.Unix() {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, ok, want.Unix())
		}
		if f := string(Append(nil, got)); f != s {
			t.Errorf("Append(%d) = %q, want %q", got, f, s)
		}
		if d := string(AppendDate(nil, got)); d != s[:10] {
			t.Errorf("AppendDate = %q", d)
		}
	}
	// Other RFC 3339 forms go through time.Parse; they come out in UTC.
	if got, ok := Parse("2022-04-26T23:30:00-02:00"); !ok || Format(got) != "2022-04-27T01:30:00Z" {
		t.Errorf("offset: %d %v", got, ok)
	}
	if got, ok := Parse("2022-04-26"); !ok || Format(got) != "2022-04-26T00:00:00Z" {
		t.Errorf("date: %d %v", got, ok)
	}
	if got, ok := Parse(""); !ok || got != 0 || Format(0) != "" {
		t.Errorf("empty: %d %v", got, ok)
	}
	for _, bad := range []string{"garbage", "2022-13-01T00:00:00Z", "2022-04-26T25:00:00Z"} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) ok", bad)
		}
	}
}

// Every day over four centuries round-trips against the time package.
func TestCivilDays(t *testing.T) {
	for d := int64(-200000); d < 200000; d += 1 {
		tm := time.Unix(d*86400, 0).UTC()
		if got := DaysFromCivil(tm.Year(), int(tm.Month()), tm.Day()); got != d {
			t.Fatalf("DaysFromCivil(%v) = %d, want %d", tm, got, d)
		}
		if y, m, dd := civilFromDays(d); y != tm.Year() || m != int(tm.Month()) || dd != tm.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %v", d, y, m, dd, tm)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2022-04-26T04:00:51Z")
	f.Add("2022-04-26T04:00:51.123+02:00")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Parse(s)
		if !ok || s == "" {
			return
		}
		if want, err := time.Parse(time.RFC3339Nano, s); err == nil && want.Unix() != got {
			t.Fatalf("Parse(%q) = %d, time.Parse says %d", s, got, want.Unix())
		}
	})
}
