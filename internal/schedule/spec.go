package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed schedule: when it fires, in which zone, and how much
// random delay each firing gets.
type Spec struct {
	Text   string         // as written, e.g. "0 2 * * *"
	Zone   *time.Location // the zone the expression is read in
	Jitter time.Duration
	cron   cron.Schedule
}

// Five fields, as crontab(5) and systemd users expect, plus @daily,
// @hourly, @weekly, @monthly, @yearly and @every <duration>.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// minEvery keeps "@every 1s" from hammering Qualys: a run takes minutes.
const minEvery = time.Minute

const want = `want 5 fields (minute hour day-of-month month day-of-week, e.g. "0 2 * * *") or @daily, @hourly, @weekly, @monthly, @every 6h`

// Parse reads a schedule. name is how the user wrote the expression
// ("schedule.run", "--schedule"), so that an error points at it. A
// CRON_TZ= or TZ= prefix on the expression sets the zone and wins over
// c.Timezone.
func Parse(c Config, name string) (*Spec, error) {
	text := strings.TrimSpace(c.Run)
	if text == "" {
		return nil, fmt.Errorf("%s: empty: %s", name, want)
	}
	zone, err := loadZone(c.Timezone)
	if err != nil {
		return nil, err
	}
	expr := text
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		rest, ok := strings.CutPrefix(expr, p)
		if !ok {
			continue
		}
		tz, e, _ := strings.Cut(rest, " ")
		z, err := time.LoadLocation(tz)
		if err != nil || tz == "" || tz == "Local" {
			return nil, fmt.Errorf("%s %q: %q is not an IANA time zone (e.g. Europe/Paris, UTC)", name, text, tz)
		}
		zone, expr = z, strings.TrimSpace(e)
		break
	}
	if c.Jitter < 0 {
		return nil, fmt.Errorf("schedule.jitter %v: must be 0 or more", c.Jitter)
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %v: %s", name, text, err, want)
	}
	if d, ok := s.(cron.ConstantDelaySchedule); ok && d.Delay < minEvery {
		return nil, fmt.Errorf("%s %q: runs must be %v apart or more", name, text, minEvery)
	}
	return &Spec{Text: text, Zone: zone, Jitter: c.Jitter, cron: s}, nil
}

// loadZone reads schedule.timezone: "" is UTC. "Local" is refused: the
// zone of a container is rarely the one meant.
func loadZone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	z, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, fmt.Errorf("schedule.timezone %q: not an IANA time zone (e.g. Europe/Paris, UTC)", tz)
	}
	return z, nil
}

// Validate checks the schedule: section as the configuration is loaded.
// Without run, only the zone and the jitter are checked.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Run) != "" {
		_, err := Parse(c, "schedule.run")
		return err
	}
	if _, err := loadZone(c.Timezone); err != nil {
		return err
	}
	if c.Jitter < 0 {
		return fmt.Errorf("schedule.jitter %v: must be 0 or more", c.Jitter)
	}
	return nil
}

// Next is the first firing after t, in the schedule's zone, before
// jitter. On the night clocks go back, a time that happens twice fires
// once, at its first occurrence: the daily job is not run twice.
func (s *Spec) Next(t time.Time) time.Time {
	n := s.cron.Next(t.In(s.Zone))
	if _, every := s.cron.(cron.ConstantDelaySchedule); every || n.IsZero() {
		return n
	}
	for _, back := range []time.Duration{30 * time.Minute, time.Hour} {
		if sameWallClock(n, n.Add(-back)) {
			return s.cron.Next(n)
		}
	}
	return n
}

// sameWallClock tells two instants a clock on the wall shows alike.
func sameWallClock(a, b time.Time) bool {
	b = b.In(a.Location())
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}
