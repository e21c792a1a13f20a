package qualys

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeQDSFactors reads QDS and its factors as show_qds=1 and
// show_qds_factors=1 add them, in response order.
func TestDecodeQDSFactors(t *testing.T) {
	data, err := os.ReadFile("testdata/hld_qds_factors.xml")
	if err != nil {
		t.Fatal(err)
	}
	var hosts []*Host
	if _, err := DecodeDetections(bytes.NewReader(data), func(h *Host) error { hosts = append(hosts, h); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || len(hosts[0].Detections) != 2 {
		t.Fatalf("got %+v", hosts)
	}
	d := hosts[0].Detections[0]
	want := []QDSFactor{{"RTI", "dos"}, {"exploit_maturity", "poc"}, {"CVSS", "9.8"}, {"CVSS_version", "v3.x"},
		{"epss", "0.2054"}, {"trending", "07112024"}, {"CVSS_vector", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}
	if d.QDS != 72 || d.QDSSeverity != "HIGH" || !reflect.DeepEqual(d.QDSFactors, want) {
		t.Errorf("QDS %d %q, factors %v", d.QDS, d.QDSSeverity, d.QDSFactors)
	}
	if d.TimesFound != 2 || d.LastProcessed != "2024-07-11T10:05:00Z" {
		t.Errorf("fields after the factors lost: %+v", d)
	}
	if e := hosts[0].Detections[1]; e.QDS != 60 || e.QDSSeverity != "" || e.QDSFactors != nil {
		t.Errorf("QDS without severity or factors: %+v", e)
	}

	// Round trip through the encoder, as gen writes files.
	var buf bytes.Buffer
	w := NewHostListDetectionWriter(&buf, "2024-07-12T09:30:11Z")
	if err := w.Host(hosts[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	var back []*Host
	if _, err := DecodeDetections(&buf, func(h *Host) error { back = append(back, h); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back[0].Detections, hosts[0].Detections) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back[0].Detections, hosts[0].Detections)
	}
}

// TestQDSFactorsLimit: a detection with more factors than the limit is
// refused, naming the host and QID.
func TestQDSFactorsLimit(t *testing.T) {
	data, err := os.ReadFile("testdata/hld_qds_factors.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Limits{QDSFactors: 6}.DecodeDetectionsTimed(bytes.NewReader(data), func(string, *Host) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "more than 6 QDS_FACTOR elements (limit qds factors)") || !strings.Contains(err.Error(), "host 1234567 qid 237189") {
		t.Errorf("err = %v", err)
	}
	if _, err := (Limits{QDSFactors: 7}).DecodeDetectionsTimed(bytes.NewReader(data), func(string, *Host) error { return nil }); err != nil {
		t.Errorf("7 factors under a limit of 7: %v", err)
	}
}
