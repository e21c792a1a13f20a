// Package schedule runs qvt's daily job on a schedule inside qvt serve:
// cron expressions and @daily-style shortcuts in a time zone, with
// jitter, never two runs at once, and retries on a backoff.
package schedule

import "time"

// Config is the schedule: section (qvt serve --schedule overrides Run).
type Config struct {
	Run      string        `yaml:"run"`      // cron expression or @daily, @hourly, @every 6h…; "" for none
	Timezone string        `yaml:"timezone"` // IANA zone the expression is read in (default UTC)
	Jitter   time.Duration `yaml:"jitter"`   // a random delay of up to this much after each firing
}
