package cvss

import "testing"

// BenchmarkScore is informational: qvt scores once per QID.
func BenchmarkScore(b *testing.B) {
	benches := []struct {
		name, vector string
		env          map[string]string
	}{
		{"v3.1-temporal-env", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:C/CR:H/IR:H/AR:H/MAV:N/MAC:L/MPR:L/MUI:N/MS:C/MC:H/MI:H/MA:H", nil},
		{"v3.1-override", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", map[string]string{"CR": "H", "MAV": "A"}},
		{"v2-temporal-env", "AV:A/AC:H/Au:S/C:N/I:P/A:P/E:POC/RL:OF/RC:C/CDP:LM/TD:M/CR:M/IR:L/AR:L", nil},
		{"v2-base", "AV:N/AC:L/Au:N/C:P/I:P/A:P", nil},
		{"v4-threat-env", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L/IR:M/AR:H", nil},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Score(bb.vector, bb.env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
