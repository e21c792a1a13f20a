package epss

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func collect(r io.Reader, lim Limits) (Header, []Score, error) {
	var h Header
	var out []Score
	err := Decode(r, lim, func(x Header) error { h = x; return nil }, func(s Score) error { out = append(out, s); return nil })
	return h, out, err
}

// TestDecodeSample reads testdata/sample.csv, the first rows of a real
// file's layout (v2025.03.14 model), plain and gzip-compressed.
func TestDecodeSample(t *testing.T) {
	plain, err := os.ReadFile("testdata/sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantH := Header{ModelVersion: "v2025.03.14", ScoreDate: "2025-03-20T00:00:00+0000"}
	want := []Score{
		{"CVE-1999-0001", 0.01141, 0.7769},
		{"CVE-1999-0002", 0.07153, 0.91177},
		{"CVE-2021-44228", 0.94358, 0.99957},
		{"CVE-2024-0001", 0.00012, 0.01511},
		{"CVE-2025-21234", 5e-05, 0.00002},
		{"CVE-2025-1234567", 1.2e-04, 0},
	}
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz(t, plain)} {
		h, got, err := collect(bytes.NewReader(in), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h != wantH {
			t.Errorf("%s: header %+v, want %+v", name, h, wantH)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
}

func TestDecodeHeaderForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Header
	}{
		{"#model_version:v2025.03.14,score_date:2025-09-24T12:55:00Z\ncve,epss,percentile\n", Header{"v2025.03.14", "2025-09-24T12:55:00Z"}},
		{"#score_date:2023-03-07T00:00:00+0000,model_version:v2023.03.01\r\ncve,epss,percentile\r\nCVE-2023-0001,0.1,0.5\r\n", Header{"v2023.03.01", "2023-03-07T00:00:00+0000"}},
		{"cve,epss,percentile\nCVE-2023-0001,0.1,0.5", Header{}}, // no comment, no final newline
		{"\n", Header{}},
	} {
		h, _, err := collect(strings.NewReader(tc.in), Limits{})
		if tc.in == "\n" {
			if err == nil {
				t.Errorf("a blank file was accepted")
			}
			continue
		}
		if err != nil || h != tc.want {
			t.Errorf("%q: header %+v, %v; want %+v", tc.in, h, err, tc.want)
		}
	}
}

func TestDecodeBadLines(t *testing.T) {
	const head = "#model_version:v2025.03.14,score_date:2025-03-20T00:00:00+0000\ncve,epss,percentile\nCVE-1999-0001,0.01141,0.7769\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "epss: empty input"},
		{"comment only", "#model_version:v1\n", "epss: line 1: the file ends after its comment"},
		{"wrong header", "#x\ncve,epss\n", `epss: line 2: header "cve,epss", want cve,epss,percentile`},
		{"not epss", "<html>\n", `epss: line 1: header "<html>"`},
		{"two columns", head + "CVE-1999-0002,0.5\n", "epss: line 4: 2 columns, want 3"},
		{"four columns", head + "CVE-1999-0002,0.5,0.5,x\n", "epss: line 4: 4 columns, want 3"},
		{"one column", head + "CVE-1999-0002\n", "epss: line 4: 1 column, want 3"},
		{"bad cve", head + "CVE-99-2,0.5,0.5\n", `epss: line 4: "CVE-99-2" is not a CVE id`},
		{"not a number", head + "CVE-1999-0002,abc,0.5\n", `epss: line 4: epss "abc" is not a number from 0 to 1`},
		{"above one", head + "CVE-1999-0002,0.5,1.01\n", `epss: line 4: percentile "1.01" is not a number from 0 to 1`},
		{"negative", head + "CVE-1999-0002,-1e-05,0.5\n", `epss "-1e-05"`},
		{"nan", head + "CVE-1999-0002,NaN,0.5\n", `epss "NaN"`},
		{"empty value", head + "CVE-1999-0002,,0.5\n", `epss ""`},
		{"long line", head + "CVE-1999-0002," + strings.Repeat("0", 5000) + ",0.5\n", "epss: line 4: longer than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := collect(strings.NewReader(tc.in), Limits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDecodeCut: a download cut mid-stream must fail, not pass as a short
// file: the store would drop the scores it did not see.
func TestDecodeCut(t *testing.T) {
	plain := rows(1000)
	z := gz(t, plain)
	for _, n := range []int{2, 10, len(z) / 2, len(z) - 1} { // one byte is not yet gzip
		_, _, err := collect(bytes.NewReader(z[:n]), Limits{})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("gzip cut at %d of %d: err = %v, want io.ErrUnexpectedEOF", n, len(z), err)
		}
	}
}

func TestDecodeCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Decode(bytes.NewReader(rows(10)), Limits{}, nil, func(Score) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("err = %v after %d rows, want the callback's error after 3", err, n)
	}
	if err := Decode(bytes.NewReader(rows(10)), Limits{}, func(Header) error { return stop }, nil); err != stop {
		t.Errorf("header callback: err = %v", err)
	}
}

func TestLimits(t *testing.T) {
	in := rows(100)
	if _, _, err := collect(bytes.NewReader(in), Limits{MaxRows: 99}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "line 102: more than 99 rows") {
		t.Errorf("MaxRows: %v", err)
	}
	if _, got, err := collect(bytes.NewReader(in), Limits{MaxRows: 100}); err != nil || len(got) != 100 {
		t.Errorf("100 rows at MaxRows 100: %d, %v", len(got), err)
	}
	// A gzip bomb: tiny compressed, large once inflated.
	bomb := gz(t, append(rows(0), bytes.Repeat([]byte("CVE-2021-0001,0.1,0.1\n"), 200000)...))
	if _, _, err := collect(bytes.NewReader(bomb), Limits{MaxBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 1048576 bytes") {
		t.Errorf("MaxBytes: %v", err)
	}
}

// rows builds a file of n rows in the real layout; values cover the
// range, some in scientific notation as pandas writes small floats.
func rows(n int) []byte {
	var b bytes.Buffer
	b.WriteString("#model_version:v2025.03.14,score_date:2025-03-20T00:00:00+0000\ncve,epss,percentile\n")
	for i := range n {
		e := float64(i%100000) / 100000
		if i%10 == 0 {
			fmt.Fprintf(&b, "CVE-%d-%04d,%g,%.5f\n", 1999+i%27, i, e/1000, e)
		} else {
			fmt.Fprintf(&b, "CVE-%d-%04d,%.5f,%.5f\n", 1999+i%27, i, e, e)
		}
	}
	return b.Bytes()
}

// BenchmarkDecode decodes 250,000 rows, about a day's file.
func BenchmarkDecode(b *testing.B) {
	const n = 250_000
	plain := rows(n)
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz(b, plain)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				k := 0
				if err := Decode(bytes.NewReader(in), Limits{}, nil, func(Score) error { k++; return nil }); err != nil || k != n {
					b.Fatal(k, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
