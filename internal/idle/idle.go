// Package idle bounds the silence of a streamed response body: the
// clients of the Qualys and NVD APIs give a body as long as it needs, as
// long as data keeps coming.
package idle

import (
	"io"
	"time"
)

// Reader restarts timer with d on every read that brings data, and counts
// the bytes read.
type Reader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
	n     int64
}

// NewReader wraps r; timer is the one that cancels the request.
func NewReader(r io.Reader, timer *time.Timer, d time.Duration) *Reader {
	return &Reader{r: r, timer: timer, d: d}
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.timer.Reset(r.d)
	}
	return n, err
}

// N is the number of bytes read so far.
func (r *Reader) N() int64 { return r.n }
