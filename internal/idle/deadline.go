package idle

import (
	"io"
	"time"
)

// DeadlineReader bounds the time a server may take over one body, however
// slowly the bytes keep coming: once its reads have waited d in all, it
// calls expired (which cancels the request) and reads no more. The time
// between reads, when the caller decodes and stores what it read, is not
// counted; it costs two clock reads a Read, nothing a record.
type DeadlineReader struct {
	r       io.Reader
	left    time.Duration
	expired func()
}

// NewDeadlineReader wraps r with a deadline of d.
func NewDeadlineReader(r io.Reader, d time.Duration, expired func()) *DeadlineReader {
	return &DeadlineReader{r: r, left: d, expired: expired}
}

// ErrDeadline is returned by the reads after the deadline.
var ErrDeadline = errDeadline{}

type errDeadline struct{}

func (errDeadline) Error() string { return "response deadline passed" }

func (r *DeadlineReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, ErrDeadline
	}
	start := time.Now()
	n, err := r.r.Read(p)
	if r.left -= time.Since(start); r.left <= 0 {
		r.expired()
	}
	return n, err
}
