package qualys_test

import (
	"bytes"
	"testing"

	"qvt/internal/gen"
	"qvt/internal/qualys"
)

// The decoders alone, on generated data shaped like real responses.
func BenchmarkDecodeDetections(b *testing.B) {
	d := gen.New(gen.Config{Seed: 1, QIDs: 5000, Hosts: 500, DetectionsPerHost: 40})
	var buf bytes.Buffer
	if err := gen.WriteHostListDetection(&buf, d, d.HostIDs(0), 0, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := qualys.DecodeDetections(bytes.NewReader(buf.Bytes()), func(h *qualys.Host) error {
			n += len(h.Detections)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "detections/op")
	}
}

func BenchmarkDecodeKB(b *testing.B) {
	d := gen.New(gen.Config{Seed: 1, QIDs: 5000})
	var buf bytes.Buffer
	if err := gen.WriteKB(&buf, d, d.QIDs(), 0); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := qualys.DecodeKB(bytes.NewReader(buf.Bytes()), func(*qualys.Vuln) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
