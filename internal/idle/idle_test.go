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
