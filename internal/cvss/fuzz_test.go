package cvss

import (
	"math"
	"path/filepath"
	"testing"
)

// FuzzScore: Score never panics, and what it accepts scores within [0, 10]
// to one decimal, with a rating, and agrees with Version and Metrics. The
// second and third arguments are one environment override.
func FuzzScore(f *testing.F) {
	files, err := filepath.Glob("testdata/vectors_*")
	if err != nil {
		f.Fatal(err)
	}
	overrides := [][2]string{{"", ""}, {"CR", "H"}, {"MAV", "P"}, {"CDP", "MH"}, {"MSI", "S"}, {"TD", "N"}, {"AR", "L"}}
	for i, path := range files {
		for j, l := range readFixture(f, path) {
			o := overrides[(i+j)%len(overrides)]
			f.Add(l.vector, o[0], o[1])
		}
	}
	// The v2 equations give -0.2 for this environmental score (found by
	// this fuzz test); Score clamps it at 0.
	f.Add("AV:L/AC:H/Au:M/C:N/I:N/A:P", "AR", "L")
	f.Add("(AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F/CR:H)", "IR", "ND")
	f.Add("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "", "")
	f.Add("CVSS:3.1/S:C/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/MS:U/MPR:H", "MS", "C")
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/MSA:S", "MSI", "S")

	f.Fuzz(func(t *testing.T, vector, key, value string) {
		var env map[string]string
		if key != "" {
			env = map[string]string{key: value}
		}
		s, err := Score(vector, env)
		if err != nil {
			return
		}
		for _, x := range []float64{s.Base, s.Temporal, s.Environmental} {
			if !(x >= 0 && x <= 10) || math.Signbit(x) || math.Round(x*10)/10 != x {
				t.Fatalf("Score(%q, %v) = %+v: score out of [0, 10] or not one decimal", vector, env, s)
			}
			switch r := Rating(s.Version, x); r {
			case "None", "Low", "Medium", "High", "Critical":
			default:
				t.Fatalf("Rating(%q, %v) = %q", s.Version, x, r)
			}
		}
		if s.Version == "2.0" && Rating(s.Version, s.Base) == "None" {
			t.Fatalf("v2 rated None: %+v", s)
		}
		if v, err := Version(vector); err != nil || v != s.Version {
			t.Fatalf("Version(%q) = %q, %v; Score said %q", vector, v, err, s.Version)
		}
		if _, err := Metrics(vector); err != nil {
			t.Fatalf("Metrics(%q): %v after Score succeeded", vector, err)
		}
	})
}
