package idle

import "time"

// Deadline calls f once it has run for d in all: it bounds how long a
// server may take over one response, however slowly the bytes keep
// coming. Pause and Resume leave out the time the caller spends on what
// it has read (a slow store is not a slow server). It is used by one
// goroutine; f runs on its own.
type Deadline struct {
	timer *time.Timer
	left  time.Duration
	since time.Time
}

// NewDeadline starts a deadline of d.
func NewDeadline(d time.Duration, f func()) *Deadline {
	return &Deadline{timer: time.AfterFunc(d, f), left: d, since: time.Now()}
}

// Pause stops the clock.
func (d *Deadline) Pause() {
	d.timer.Stop()
	d.left -= time.Since(d.since)
}

// Resume starts the clock again; a deadline already spent fires at once.
func (d *Deadline) Resume() {
	d.since = time.Now()
	d.timer.Reset(max(d.left, 0))
}

// Stop ends the deadline without calling f.
func (d *Deadline) Stop() { d.timer.Stop() }
