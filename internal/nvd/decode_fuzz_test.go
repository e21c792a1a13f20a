package nvd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// maxFuzzInput caps fuzz inputs. It holds every fixture but the 133 KB
// CVE-2021-44228.json, whose seed is cut to this size (a truncation case of
// its own; TestDecodeTruncated covers the whole file). Larger inputs would
// slow every exec and keep the minimizer busy for its full minute.
const maxFuzzInput = 32 << 10

// FuzzDecode checks that Decode never panics or hangs, fails only with a
// FormatError naming an offset inside the input, accepts only valid JSON,
// passes only records with an id, and gives the same result however the
// input is split into reads.
func FuzzDecode(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "fuzz" {
			return filepath.SkipDir // the fuzzing engine reads its corpus itself
		}
		if ext := filepath.Ext(path); !e.IsDir() && (ext == ".json" || ext == ".html") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(data[:min(len(data), maxFuzzInput)])
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		``, `[]`, `{}`, `{"foo":1}`, `null`,
		`{"cve":{"id":"CVE-1"}}`,
		`{"cve_items":[{"id":"CVE-1","vulnStatus":"x"}],"timestamp":"t"}`,
		`{"vulnerabilities":[{"cve":{"id":"CVE-1","metrics":{"cvssMetricV2":[{"cvssData":{"baseScore":1},"baseSeverity":"LOW"}]}}}],"totalResults":1}`,
		`{"CVE_Items":[{"cve":{"CVE_data_meta":{"ID":"CVE-1"}},"impact":{"baseMetricV3":{"cvssV3":{"version":"3.1"}}}}]}`,
		"\xef\xbb\xbf{\"id\":\"CVE-1\",\"descriptions\":[{\"lang\":\"en\",\"value\":\"\\u00e9\xff\"}]}",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip("input larger than maxFuzzInput")
		}
		got, info, err := decodeAll(bytes.NewReader(data))
		for _, c := range got {
			if c == nil || c.ID == "" {
				t.Fatalf("record without id passed to fn: %+v", c)
			}
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("offset %d outside the %d-byte input: %v", fe.Offset, len(data), err)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("nvd: byte %d", fe.Offset)) {
				t.Fatalf("message does not start with the offset: %v", err)
			}
			if len(err.Error()) > 4096 {
				t.Fatalf("message of %d bytes", len(err.Error()))
			}
		} else {
			// Decode repairs invalid UTF-8 and skips a byte order mark;
			// encoding/json's Valid ignores the former but not the latter.
			if !json.Valid(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))) {
				t.Fatalf("Decode accepted invalid JSON")
			}
			switch info.Format {
			case FormatAPI, FormatRecord, FormatFKIE, FormatFeed11:
			default:
				t.Fatalf("success with Format %q", info.Format)
			}
		}

		// Under tight limits the result is the same, or a FormatError that
		// names the limit: fuzzing reaches the limits with small inputs.
		tight := Limits{String: 64, Value: 2048}
		var got2 []*CVE
		_, err2 := tight.Decode(bytes.NewReader(data), func(c *CVE) error { got2 = append(got2, c); return nil })
		if err2 == nil {
			if err != nil || !reflect.DeepEqual(got2, got) {
				t.Fatalf("tight limits: %v, records %s", err2, diffCVEs(got2, got))
			}
		} else if !sameError(err2, err) {
			var fe *FormatError
			if !errors.As(err2, &fe) || !strings.Contains(err2.Error(), "(limit ") || fe.Offset < 0 || fe.Offset > int64(len(data)) || len(err2.Error()) >= 300 {
				t.Fatalf("tight limits: error %v, without them %v", err2, err)
			}
		}

		// Reads of one byte put every token across a buffer boundary. They
		// are slow, and the minimizer reruns an input thousands of times,
		// so larger inputs are read in halves instead.
		split := iotest.HalfReader
		if len(data) <= 4<<10 {
			split = iotest.OneByteReader
		}
		got1, info1, err1 := decodeAll(split(bytes.NewReader(data)))
		if !sameError(err1, err) {
			t.Fatalf("split reads: error %v, want %v", err1, err)
		}
		if info1 != info {
			t.Fatalf("split reads: Info %+v, want %+v", info1, info)
		}
		if !reflect.DeepEqual(got1, got) {
			t.Fatalf("split reads: %s", diffCVEs(got1, got))
		}
	})
}

// sameError reports whether two Decode errors say the same thing. The
// messages themselves may differ: jsontext quotes an invalid byte as U+FFFD
// or as \xNN depending on whether the bytes after it were already read.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var fa, fb *FormatError
	if !errors.As(a, &fa) || !errors.As(b, &fb) {
		return a.Error() == b.Error()
	}
	return fa.Offset == fb.Offset && fa.Path == fb.Path && fa.ID == fb.ID &&
		errors.Is(a, io.ErrUnexpectedEOF) == errors.Is(b, io.ErrUnexpectedEOF) &&
		errors.Is(a, ErrNotNVD) == errors.Is(b, ErrNotNVD)
}
