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
	for _, bad := range []string{"garbage", "2022-13-01T00:00:00Z", "2022-04-26T25:00:00Z",
		// Times that do not exist are refused, not moved to the next month
		// or minute.
		"2022-02-31T00:00:00Z", "2022-02-29T00:00:00Z", "2100-02-29T12:00:00Z", "2022-04-31T00:00:00Z",
		"2022-04-26T04:00:60Z", "2022-04-26T04:60:00Z", "2022-04-26T24:00:00Z", "2022-04-00T00:00:00Z",
		"2022-02-31T00:00:00+01:00"} {
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

// The last day of every month of four centuries is a time, the day after
// it is not.
func TestDaysPerMonth(t *testing.T) {
	for y := 1900; y < 2300; y++ {
		for m := 1; m <= 12; m++ {
			last := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
			for _, d := range []int{last, last + 1} {
				s := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-") + two(d) + "T23:59:59Z"
				_, ok := Parse(s)
				if want := d == last; ok != want {
					t.Fatalf("Parse(%q) ok = %v, want %v", s, ok, want)
				}
			}
		}
	}
}

func two(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// reference is what Parse must do, by the time package: RFC 3339 (with or
// without fractional seconds), or a date alone.
func reference(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	tt, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if tt, err = time.Parse("2006-01-02", s); err != nil {
			return 0, false
		}
	}
	return tt.Unix(), true
}

// FuzzParse checks Parse against the time package both ways: what one
// refuses the other refuses, and what both accept is the same second.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2022-04-26T04:00:51Z", "2022-04-26T04:00:51.123+02:00", "2022-02-31T00:00:00Z",
		"2022-04-26T04:00:60Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2022-04-26", "0000-01-01T00:00:00Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Parse(s)
		want, wantOK := reference(s)
		if ok != wantOK {
			t.Fatalf("Parse(%q) ok = %v, the time package says %v", s, ok, wantOK)
		}
		if got != want {
			t.Fatalf("Parse(%q) = %d, the time package says %d", s, got, want)
		}
	})
}

var sink int64

// BenchmarkParse compares the hand-written path with time.Parse on the
// form Qualys sends.
func BenchmarkParse(b *testing.B) {
	vals := []string{"2022-04-26T04:00:51Z", "2024-02-29T23:59:59Z", "2019-11-30T12:30:00Z", "2026-01-31T00:00:01Z"}
	b.Run("unixtime", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			t, _ := Parse(vals[i%len(vals)])
			sink += t
		}
	})
	b.Run("time.Parse", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			t, _ := time.Parse(time.RFC3339, vals[i%len(vals)])
			sink += t.Unix()
		}
	})
}
