package idle

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// Each read that brings data pushes the deadline back; the bytes are
// counted.
func TestReader(t *testing.T) {
	fired := make(chan struct{})
	timer := time.AfterFunc(time.Hour, func() { close(fired) })
	defer timer.Stop()
	r := NewReader(iotest.OneByteReader(strings.NewReader("abc")), timer, 50*time.Millisecond)
	for range 3 {
		time.Sleep(30 * time.Millisecond) // less than d between reads
		if _, err := r.Read(make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-fired:
		t.Fatal("the timer fired while data kept coming")
	default:
	}
	if _, err := r.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("after the data: %v, want EOF", err)
	}
	if r.N() != 3 {
		t.Errorf("%d bytes counted, want 3", r.N())
	}
	select {
	case <-fired:
	case <-time.After(time.Second):
		t.Fatal("the timer did not fire once the data stopped")
	}
}

// A deadline fires once it has run d in all, the paused time left out.
func TestDeadline(t *testing.T) {
	fired := make(chan time.Time, 1)
	start := time.Now()
	d := NewDeadline(100*time.Millisecond, func() { fired <- time.Now() })
	defer d.Stop()
	time.Sleep(60 * time.Millisecond)
	d.Pause()
	time.Sleep(150 * time.Millisecond) // longer than d: paused, it must not fire
	select {
	case <-fired:
		t.Fatal("fired while paused")
	default:
	}
	d.Resume()
	select {
	case at := <-fired:
		if took := at.Sub(start); took < 200*time.Millisecond {
			t.Errorf("fired after %v, want the 100ms run plus the 150ms pause", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never fired")
	}
	// Stopped, it never fires.
	d = NewDeadline(10*time.Millisecond, func() { fired <- time.Now() })
	d.Stop()
	select {
	case <-fired:
		t.Error("a stopped deadline fired")
	case <-time.After(50 * time.Millisecond):
	}
}
