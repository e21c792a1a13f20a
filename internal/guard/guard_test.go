package guard

import (
	"errors"
	"strings"
	"testing"
)

func TestCall(t *testing.T) {
	want := errors.New("bad input")
	if err := Call(func() error { return want }); err != want {
		t.Errorf("an error: got %v, want %v", err, want)
	}
	if err := Call(func() error { return nil }); err != nil {
		t.Errorf("no error: got %v", err)
	}
	err := Call(func() error {
		var m map[string]int
		m["x"] = 1 // a nil map write panics
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "internal error: assignment to entry in nil map") ||
		!strings.Contains(err.Error(), "guard_test.go") {
		t.Errorf("a panic: got %v, want an internal error with the panic and its stack", err)
	}
	done := make(chan error)
	go func() { done <- Call(func() error { panic("on a goroutine") }) }()
	if err := <-done; err == nil || !strings.HasPrefix(err.Error(), "internal error: on a goroutine") {
		t.Errorf("a panic on a goroutine: got %v", err)
	}
}
