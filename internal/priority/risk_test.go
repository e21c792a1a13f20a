package priority

import (
	"fmt"
	"reflect"
	"testing"
)

func TestQIDRisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		cves []CVEFacts
		ti   []string
		want Risk
	}{
		{"no CVEs", nil, nil, Risk{}},
		{"CVEs the feeds do not know", []CVEFacts{{CVE: "CVE-2024-0001"}, {CVE: "CVE-2024-0002"}}, nil, Risk{}},
		{"KEV from a CVE that is not the primary",
			[]CVEFacts{
				{CVE: "CVE-2024-0001", EPSS: f64(0.002), Percentile: f64(0.4)},
				{CVE: "CVE-2023-4966", InKEV: true, KEVDateAdded: "2023-10-18", KEVDueDate: "2023-11-08", EPSS: f64(0.97), Percentile: f64(0.999)},
			}, nil,
			Risk{KEV: true, KEVCVEs: []string{"CVE-2023-4966"}, KEVDateAdded: "2023-10-18", KEVDueDate: "2023-11-08",
				EPSS: f64(0.97), Percentile: f64(0.999), EPSSCVE: "CVE-2023-4966"}},
		{"earliest dates among several, in KB order",
			[]CVEFacts{
				{CVE: "CVE-2024-3000", InKEV: true, KEVDateAdded: "2024-05-02", KEVDueDate: "2024-05-23"},
				{CVE: "CVE-2024-1000"},
				{CVE: "CVE-2024-2000", InKEV: true, KEVDateAdded: "2024-03-01", KEVDueDate: "2024-06-01"},
				{CVE: "CVE-2024-4000", InKEV: true, KEVDateAdded: "2024-04-11", KEVDueDate: "2024-05-02"},
			}, nil,
			Risk{KEV: true, KEVCVEs: []string{"CVE-2024-3000", "CVE-2024-2000", "CVE-2024-4000"},
				KEVDateAdded: "2024-03-01", KEVDueDate: "2024-05-02"}},
		{"a CVE listed twice counts once",
			[]CVEFacts{{CVE: "CVE-2024-3000", InKEV: true, KEVDateAdded: "2024-05-02"}, {CVE: "CVE-2024-3000", InKEV: true, KEVDateAdded: "2024-05-02"}}, nil,
			Risk{KEV: true, KEVCVEs: []string{"CVE-2024-3000"}, KEVDateAdded: "2024-05-02"}},
		{"ransomware from any KEV CVE",
			[]CVEFacts{{CVE: "CVE-2024-1", InKEV: true, KEVDateAdded: "2024-01-01"}, {CVE: "CVE-2024-2", InKEV: true, KEVDateAdded: "2024-02-01", Ransomware: true}}, nil,
			Risk{KEV: true, KEVCVEs: []string{"CVE-2024-1", "CVE-2024-2"}, KEVDateAdded: "2024-01-01", KEVRansomware: true}},
		{"max EPSS with its own percentile",
			[]CVEFacts{
				{CVE: "CVE-2024-1", EPSS: f64(0.1), Percentile: f64(0.9)},
				{CVE: "CVE-2024-2", EPSS: f64(0.3), Percentile: f64(0.95)},
				{CVE: "CVE-2024-3", EPSS: f64(0.2), Percentile: f64(0.99)}, // a higher percentile does not matter
				{CVE: "CVE-2024-4"},
			}, nil,
			Risk{EPSS: f64(0.3), Percentile: f64(0.95), EPSSCVE: "CVE-2024-2"}},
		{"an EPSS tie goes to the CVE listed first",
			[]CVEFacts{
				{CVE: "CVE-2024-9", EPSS: f64(0.00043), Percentile: f64(0.1)},
				{CVE: "CVE-2024-5", EPSS: f64(0.5), Percentile: f64(0.98)},
				{CVE: "CVE-2024-1", EPSS: f64(0.5), Percentile: f64(0.97)},
			}, nil,
			Risk{EPSS: f64(0.5), Percentile: f64(0.98), EPSSCVE: "CVE-2024-5"}},
		{"EPSS zero is a score, not none",
			[]CVEFacts{{CVE: "CVE-2024-1"}, {CVE: "CVE-2024-2", EPSS: f64(0), Percentile: f64(0)}}, nil,
			Risk{EPSS: f64(0), Percentile: f64(0), EPSSCVE: "CVE-2024-2"}},
		{"threat intel in KB order",
			nil, []string{"Exploit_Public", "Active_Attacks", "High_Lateral_Movement"},
			Risk{ThreatIntel: []string{"Exploit_Public", "Active_Attacks", "High_Lateral_Movement"}}},
	} {
		got := QIDRisk(tc.cves, tc.ti)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, show(got), show(tc.want))
		}
	}
}

// The risk does not share memory with what it was made of: the store
// reuses its buffers.
func TestQIDRiskCopies(t *testing.T) {
	cves := []CVEFacts{{CVE: "CVE-2024-1", InKEV: true, EPSS: f64(0.4), Percentile: f64(0.9)}}
	ti := []string{"Wormable"}
	r := QIDRisk(cves, ti)
	*cves[0].EPSS, *cves[0].Percentile, ti[0] = 0, 0, "x"
	if *r.EPSS != 0.4 || *r.Percentile != 0.9 || r.ThreatIntel[0] != "Wormable" {
		t.Errorf("risk changed with its input: %s", show(r))
	}
}

func show(r Risk) string {
	p := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	epss, pct := p(r.EPSS), p(r.Percentile)
	r.EPSS, r.Percentile = nil, nil
	return fmt.Sprintf("%+v epss=%v percentile=%v", r, epss, pct)
}
