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

// A deadline counts the time spent inside reads only: a reader that takes
// 20ms a read expires after d, a caller slow between reads does not.
func TestDeadlineReader(t *testing.T) {
	slow := readerFunc(func(p []byte) (int, error) { time.Sleep(20 * time.Millisecond); p[0] = 'x'; return 1, nil })
	expired := 0
	r := NewDeadlineReader(slow, 100*time.Millisecond, func() { expired++ })
	reads := 0
	for ; reads < 100; reads++ {
		if _, err := r.Read(make([]byte, 8)); err != nil {
			if err != ErrDeadline {
				t.Fatalf("read %d: %v, want ErrDeadline", reads, err)
			}
			break
		}
	}
	if expired != 1 || reads < 4 || reads > 7 {
		t.Errorf("expired %d times after %d reads of 20ms, want once after about 5", expired, reads)
	}
	// Between reads the clock stops.
	expired = 0
	r = NewDeadlineReader(strings.NewReader("abcdef"), 100*time.Millisecond, func() { expired++ })
	for range 3 {
		if _, err := r.Read(make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if expired != 0 {
		t.Error("the time between reads counted")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// BenchmarkDeadlineReader is what the deadline adds to a Read.
func BenchmarkDeadlineReader(b *testing.B) {
	r := NewDeadlineReader(readerFunc(func(p []byte) (int, error) { return len(p), nil }), time.Hour, func() {})
	buf := make([]byte, 64<<10)
	for b.Loop() {
		r.Read(buf)
	}
}
