package qualys_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"qvt/internal/gen"
	"qvt/internal/qualys"
)

func TestRoundTripGenerated(t *testing.T) {
	d := gen.New(gen.Config{Seed: 3, QIDs: 3000, Hosts: 100, CVEs: 3000})
	var kb, hld bytes.Buffer
	if err := gen.WriteKB(&kb, d, d.QIDs(), 4); err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err := qualys.DecodeKB(bytes.NewReader(kb.Bytes()), func(v *qualys.Vuln) error {
		want := d.Vuln(v.QID, 4)
		want.CVEs = slices.DeleteFunc(want.CVEs, func(s string) bool { return s == "" })
		if len(want.CVEs) == 0 {
			want.CVEs = nil
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			var ga, gb map[string]any
			json.Unmarshal(a, &ga)
			json.Unmarshal(b, &gb)
			for k := range ga {
				x, _ := json.Marshal(ga[k])
				y, _ := json.Marshal(gb[k])
				if !bytes.Equal(x, y) {
					t.Errorf("QID %d field %s: got %s want %s", v.QID, k, x, y)
				}
			}
		}
		n++
		return nil
	})
	if err != nil || n != 3000 {
		t.Fatal(err, n)
	}
	w := &qualys.Warning{Code: "1980", Text: "x", URL: "https://x/?a=1&id_min=5"}
	if err := gen.WriteHostListDetection(&hld, d, d.HostIDs(4), 4, w); err != nil {
		t.Fatal(err)
	}
	n = 0
	resp, err := qualys.DecodeDetections(bytes.NewReader(hld.Bytes()), func(h *qualys.Host) error {
		want := d.Host(h.ID, 4)
		a, _ := json.Marshal(h)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Errorf("host %d differs", h.ID)
		}
		n++
		return nil
	})
	if err != nil || n != len(d.HostIDs(4)) || resp.Warning == nil || *resp.Warning != *w {
		t.Fatal(err, n, resp)
	}
	var ids, sr bytes.Buffer
	qualys.WriteHostIDList(&ids, "2026-11-01T00:00:00Z", d.HostIDs(4))
	qualys.WriteSimpleReturn(&sr, "2026-11-01T00:00:00Z", 1965, "wait", map[string]string{"SECONDS_TO_WAIT": "10"})
	apiErr, err := qualys.DecodeSimpleReturn(&sr)
	t.Logf("simple return: %+v %v", apiErr, err)
	t.Logf("root of id list: %s", qualys.RootElement(ids.Bytes()))
}
