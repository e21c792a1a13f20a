package crafted

import (
	"io"
	"testing"
	"testing/iotest"
)

func TestStream(t *testing.T) {
	for _, tc := range []struct {
		prefix, fill string
		n            int64
		suffix, want string
	}{
		{"<a>", "xy", 3, "</a>", "<a>xyxyxy</a>"},
		{"", "z", 0, "", ""},
		{"[", "abc", 1, "]", "[abc]"},
	} {
		got, err := io.ReadAll(Stream(tc.prefix, tc.fill, tc.n, tc.suffix))
		if err != nil || string(got) != tc.want {
			t.Errorf("Stream(%q, %q, %d, %q) = %q, %v; want %q", tc.prefix, tc.fill, tc.n, tc.suffix, got, err, tc.want)
		}
		// Any read size gives the same bytes.
		if err := iotest.TestReader(Stream(tc.prefix, tc.fill, tc.n, tc.suffix), []byte(tc.want)); err != nil {
			t.Errorf("%q: %v", tc.want, err)
		}
	}
}
