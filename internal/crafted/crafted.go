// Package crafted streams inputs of any size for the tests of qvt's
// decoders and loaders: a crafted file of gigabytes costs the test no
// memory, since its repeated middle is never held.
package crafted

import (
	"io"
	"strings"
)

// Stream is prefix, fill repeated n times, then suffix.
func Stream(prefix, fill string, n int64, suffix string) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), &repeat{fill: fill, n: n}, strings.NewReader(suffix))
}

type repeat struct {
	fill string
	n    int64 // repetitions left
	off  int   // offset in the current repetition
}

func (r *repeat) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) && r.n > 0 {
		c := copy(p[k:], r.fill[r.off:])
		k += c
		if r.off += c; r.off == len(r.fill) {
			r.off = 0
			r.n--
		}
	}
	if k == 0 {
		return 0, io.EOF
	}
	return k, nil
}
