// Package guard turns a panic on one of qvt's own goroutines into an
// error. app.Run recovers a panic on the main goroutine and reports it as
// an internal error with exit 1; a panic on any other goroutine would
// bypass it and crash the process with Go's exit code 2, which qvt uses
// for usage errors. Work that qvt runs on a goroutine (decoding beside
// the writer, encoding beside the reader, building the dashboard's
// overview) goes through Call, so its panic comes back as that work's
// error.
package guard

import (
	"fmt"
	"runtime/debug"
)

// Call runs fn and returns its error, or an internal error carrying the
// panic and its stack if fn panics.
func Call(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}
