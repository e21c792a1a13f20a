package cvss

import (
	"math"
	"slices"
	"strings"
	"testing"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// none marks a score the case does not check.
var none = math.NaN()

type scoreCase struct {
	vector                string
	base, temporal, envir float64 // NaN: not checked
}

func checkScores(t *testing.T, tests []scoreCase, env map[string]string) {
	t.Helper()
	for _, tt := range tests {
		got, err := Score(tt.vector, env)
		if err != nil {
			t.Errorf("Score(%q, %v): %v", tt.vector, env, err)
			continue
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"base", got.Base, tt.base}, {"temporal", got.Temporal, tt.temporal}, {"environmental", got.Environmental, tt.envir}} {
			if !math.IsNaN(c.want) && c.got != c.want {
				t.Errorf("Score(%q, %v): %s %.1f, want %.1f", tt.vector, env, c.name, c.got, c.want)
			}
		}
	}
}

// TestHandChecked is the hand-checked list of nvd-cvss.md section 3 and the
// worked example of findings.md.
func TestHandChecked(t *testing.T) {
	checkScores(t, []scoreCase{
		{"AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, none, none},
		{"AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0, none, none},
		{"AV:A/AC:M/Au:N/C:C/I:N/A:P/E:POC/RL:W/RC:UC", 6.4, 4.9, none},
		{"AV:A/AC:H/Au:S/C:N/I:P/A:P/E:POC/RL:OF/RC:C/CDP:LM/TD:M/CR:M/IR:L/AR:L", 2.9, 2.3, 2.8},
		{"AV:L/AC:M/Au:S/C:N/I:P/A:C/E:U/RL:OF/RC:UR/CDP:N/TD:L/CR:H/IR:H/AR:H", 5.0, 3.5, 1.2},
		// 9.0 x 0.95 = 8.55 exactly: half-up gives 8.6, float rounding 8.5.
		{"AV:N/AC:L/Au:S/C:C/I:C/A:C/E:F/RL:U/RC:C", 9.0, 8.6, none},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, 9.8, 9.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, 0.0, 0.0},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, 5.4, 5.4},
		// 3.1 changed the scope-changed modified impact: env differs from
		// temporal with no environmental metric.
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, 9.6, 9.7},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6, 9.6, 9.6},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, 9.9, 10.0},
		// 10.0 x 0.92 is 9.200000000000001 in floats: Roundup must give 9.2.
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/RC:U", 10.0, 9.2, 9.2},
		{"CVSS:3.0/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", 3.8, 3.7, 3.7},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:C/CR:H/IR:H/AR:H/MAV:N/MAC:L/MPR:L/MUI:N/MS:C/MC:H/MI:H/MA:H", 9.3, 8.9, 9.5},
		{"CVSS:3.0/AV:L/AC:L/PR:H/UI:R/S:U/C:H/I:N/A:H/E:H/RL:W/RC:U/CR:H/IR:H/AR:M/MAV:L/MAC:L/MPR:H/MUI:N/MS:C/MC:N/MI:H/MA:L", 5.8, 5.2, 7.4},
		// Modified impact <= 0 must give 0, not a small positive score.
		{"CVSS:3.0/AV:L/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N/MAV:A/MAC:L/MPR:N/MUI:N/MS:U/MC:N/MI:N/MA:N", 4.6, 4.6, 0.0},
		{"CVSS:3.0/S:C/C:H/I:H/A:N/AV:P/AC:H/PR:H/UI:R/E:H/RL:O/RC:R/CR:H/IR:X/AR:X/MAC:H/MPR:X/MUI:X/MC:L/MA:X", 6.5, 6.0, 5.3},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, 9.3, 9.3},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", 9.3, 8.1, 8.1},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:N", 9.9, 9.9, 9.9},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 8.7, 8.7, 8.7},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/AR:L", 8.7, 8.7, 7.9},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N", 6.9, 6.9, 6.9},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N", 5.3, 5.3, 5.3},
		// The late-2024 epsilon rounding fix: upstream go-cvss gives 5.6.
		{"CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:H/VA:L/SC:N/SI:N/SA:L", 5.7, 5.7, 5.7},
		{"CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A", 7.3, 7.3, 7.3},
	}, nil)
}

// TestWorkedExample is findings.md's worked example (QID 105936).
func TestWorkedExample(t *testing.T) {
	const vec = "CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C"
	got, err := Score(vec, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Scores{Version: "3.0", Base: 7.8, Temporal: 7.6, Environmental: 7.6}
	if got != want {
		t.Errorf("Score = %+v, want %+v", got, want)
	}
	if r := Rating(got.Version, got.Environmental); r != "High" {
		t.Errorf("Rating = %q, want High", r)
	}
}

// TestLeniency: the forms real data takes score like their canonical form.
func TestLeniency(t *testing.T) {
	tests := []struct{ name, vector, canonical string }{
		{"v3 out of order", "CVSS:3.1/S:U/C:H/AV:N/AC:L/PR:N/UI:N/I:H/A:H/RC:C/E:F", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:F/RC:C"},
		{"v3 explicit X", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:X/RL:X/RC:X/CR:X/MAV:X/MS:X", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"},
		{"v2 partial temporal", "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F", "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F/RL:ND/RC:ND"},
		{"v2 partial env", "AV:N/AC:L/Au:N/C:P/I:P/A:P/CDP:H/CR:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P/CDP:H/TD:ND/CR:H/IR:ND/AR:ND"},
		{"v2 out of order", "CR:H/AV:N/AC:L/Au:N/C:P/I:P/A:P/RL:OF/CDP:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P/RL:OF/CDP:H/CR:H"},
		{"v2 parentheses", "(AV:N/AC:L/Au:N/C:P/I:P/A:P)", "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
		{"v2 header", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
		{"blanks", "  CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		{"v4 out of order", "CVSS:4.0/E:P/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:Red/CR:L", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/CR:L/U:Red"},
		{"v4 explicit X", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/MSI:X/U:X", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Score(tt.vector, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Score(tt.canonical, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Score(%q) = %+v, Score(%q) = %+v", tt.vector, got, tt.canonical, want)
			}
		})
	}
}

// TestCanonical checks the strings handed to go-cvss.
func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CVSS:3.0/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", "CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:N/E:F/RL:X"},
		{"AV:L/AC:L/Au:S/C:P/I:P/A:P/E:U/RC:C/CDP:LM/TD:L/IR:H/AR:M", "AV:L/AC:L/Au:S/C:P/I:P/A:P/E:U/RL:ND/RC:C/CDP:LM/TD:L/CR:ND/IR:H/AR:M"},
		{"AV:L/AC:L/Au:S/C:P/I:P/A:P/TD:L", "AV:L/AC:L/Au:S/C:P/I:P/A:P/CDP:ND/TD:L/CR:ND/IR:ND/AR:ND"},
		{"CVSS:4.0/S:P/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MSI:S", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MSI:S/S:P"},
	}
	for _, tt := range tests {
		v, err := parse(tt.in)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		if got := v.canonical(all); got != tt.want {
			t.Errorf("canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNegativeZero(t *testing.T) {
	got, err := Score("AV:L/AC:H/Au:M/C:N/I:N/A:N", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{got.Base, got.Temporal, got.Environmental} {
		if x != 0 || math.Signbit(x) {
			t.Errorf("Score = %+v, want +0 everywhere", got)
		}
	}
}

// TestV4Groups: v4's three scores are B, BT and BTE; supplemental metrics
// change nothing.
func TestV4Groups(t *testing.T) {
	const base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	checkScores(t, []scoreCase{
		{base + "/E:U/AR:L", 9.3, 8.1, none},
		{base + "/CR:L/IR:L/AR:L", 9.3, 9.3, none},
		{base + "/S:P/AU:Y/R:I/V:C/RE:H/U:Red", 9.3, 9.3, 9.3},
	}, nil)
	bt, _ := Score(base+"/E:U", nil)
	bte, _ := Score(base+"/E:U/CR:L/IR:L/AR:L", nil)
	if bte.Environmental >= bt.Environmental {
		t.Errorf("low requirements did not lower the score: %v vs %v", bte, bt)
	}
}

func TestOverrides(t *testing.T) {
	const v31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
	plain, err := Score(v31, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Base != 7.5 || plain.Environmental != 7.5 {
		t.Fatalf("Score(%q) = %+v, want 7.5 everywhere", v31, plain)
	}

	t.Run("CR:H raises env only", func(t *testing.T) {
		got, err := Score(v31, map[string]string{"CR": "H"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Base != plain.Base || got.Temporal != plain.Temporal || got.Environmental <= plain.Environmental {
			t.Errorf("got %+v, plain %+v", got, plain)
		}
	})
	t.Run("MAV:L lowers env", func(t *testing.T) {
		got, err := Score(v31, map[string]string{"MAV": "L"})
		if err != nil {
			t.Fatal(err)
		}
		// Same as writing the metric in the vector.
		want, _ := Score(v31+"/MAV:L", nil)
		if got != want || got.Environmental >= plain.Environmental || got.Base != plain.Base {
			t.Errorf("got %+v, want %+v (plain %+v)", got, want, plain)
		}
	})
	t.Run("override replaces the vector", func(t *testing.T) {
		got, _ := Score(v31+"/MAV:P/CR:L", map[string]string{"MAV": "X", "CR": "X"})
		if got != plain {
			t.Errorf("got %+v, want %+v", got, plain)
		}
	})
	t.Run("v2 CDP TD", func(t *testing.T) {
		const v2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
		checkScores(t, []scoreCase{{v2, 7.5, 7.5, 7.5}}, nil)
		// CR/IR/AR ND leave the base impact, so the adjusted temporal is
		// 7.5: (7.5 + (10-7.5)*0.5) * 1 = 8.75, half up 8.8.
		checkScores(t, []scoreCase{{v2, 7.5, 7.5, 8.8}}, map[string]string{"CDP": "H", "TD": "H"})
		checkScores(t, []scoreCase{{v2, 7.5, 7.5, 0.0}}, map[string]string{"TD": "N"})
		// The v2 equations give -0.2 here (adjusted base below 0); scores
		// are clamped at 0 as in Red Hat's cvss. With CDP:H the negative
		// adjusted temporal still enters the equation: (-0.2 + 10.2*0.5).
		checkScores(t, []scoreCase{{"AV:L/AC:H/Au:M/C:N/I:N/A:P", 0.8, 0.8, 0.0}}, map[string]string{"AR": "L"})
		checkScores(t, []scoreCase{{"AV:L/AC:H/Au:M/C:N/I:N/A:P/AR:L/CDP:H", 0.8, 0.8, 4.9}}, nil)
		// CR:H on a partial temporal group.
		got, _ := Score(v2+"/E:F", map[string]string{"CR": "H"})
		want, _ := Score(v2+"/E:F/RL:ND/RC:ND/CDP:ND/TD:ND/CR:H/IR:ND/AR:ND", nil)
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("v4", func(t *testing.T) {
		const v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N"
		checkScores(t, []scoreCase{{v4, 8.7, 8.7, 7.9}}, map[string]string{"AR": "L"})
		checkScores(t, []scoreCase{{v4 + "/E:U", 8.7, none, none}}, map[string]string{"CR": "L", "IR": "L", "AR": "L", "MAV": "P"})
		got, _ := Score(v4, map[string]string{"CR": "L", "MAV": "L", "MSI": "S"})
		want, _ := Score(v4+"/CR:L/MAV:L/MSI:S", nil)
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("other version's metric ignored", func(t *testing.T) {
		got, err := Score(v31, map[string]string{"CDP": "H", "TD": "N", "MSI": "S", "Au": "M"})
		if err != nil || got != plain {
			t.Errorf("got %+v, %v; want %+v", got, err, plain)
		}
		const v2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
		want, _ := Score(v2, nil)
		got, err = Score(v2, map[string]string{"MAV": "P", "MC": "N"})
		if err != nil || got != want {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			vector string
			env    map[string]string
			want   []string // substrings of the error
		}{
			{v31, map[string]string{"CR": "Z"}, []string{"CR", `"Z"`}},
			{v31, map[string]string{"MAV": "ND"}, []string{"MAV", `"ND"`}},
			{v31, map[string]string{"CR": ""}, []string{"CR"}},
			{"AV:N/AC:L/Au:N/C:P/I:P/A:P", map[string]string{"CR": "X"}, []string{"CR", `"X"`}},
			{"AV:N/AC:L/Au:N/C:P/I:P/A:P", map[string]string{"CDP": "M"}, []string{"CDP", `"M"`}},
			{v31, map[string]string{"AV": "L"}, []string{"AV", "base"}},
			{v31, map[string]string{"E": "U"}, []string{"E", "temporal"}},
			{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", map[string]string{"U": "Red"}, []string{"U", "supplemental"}},
		} {
			_, err := Score(tt.vector, tt.env)
			if err == nil {
				t.Errorf("Score(%q, %v): no error", tt.vector, tt.env)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Score(%q, %v): error %q does not name %s", tt.vector, tt.env, err, w)
				}
			}
		}
	})
}

func TestBadVectors(t *testing.T) {
	tests := []struct{ vector, want string }{
		{"", "empty vector"},
		{"   ", "empty vector"},
		{"()", "empty vector"},
		{"garbage", `metric "garbage" has no value`},
		{"CVSS:3.1/AV:N", "missing base metric AC, PR, UI, S, C, I, A"},
		{"CVSS:3.1/AV:Z/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `invalid value "Z" for metric AV`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:N", "metric AV given twice"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X/E:X", "metric E given twice"},
		{"CVSS:9.9/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `unsupported CVSS version "9.9"`},
		{"CVSS:3.1", "no metrics"},
		{"CVSS:3.2/AV:N", `unsupported CVSS version "3.2"`},
		{"CVSS:3.1/", "empty metric"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", "empty metric"},
		{"CVSS:3.1/AV:N//AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "empty metric"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/CDP:H", `unknown CVSS 3.1 metric "CDP"`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:ND", `invalid value "ND" for metric E`},
		{"CVSS:3.1/av:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `unknown CVSS 3.1 metric "av"`},
		{"AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `unknown CVSS 2.0 metric "PR"`}, // v3 without header
		{"AV:N/AC:L/Au:N/C:P/I:P", "missing base metric A"},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P/E:X", `invalid value "X" for metric E`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", "missing base metric SA"},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N", `invalid value "S" for metric SI`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:red", `invalid value "red" for metric U`},
		{"CVSS:3.1/AV:N:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", `invalid value "N:N" for metric AV`},
	}
	for _, tt := range tests {
		for name, f := range map[string]func(string) error{
			"Score":   func(v string) error { _, err := Score(v, nil); return err },
			"Version": func(v string) error { _, err := Version(v); return err },
			"Metrics": func(v string) error { _, err := Metrics(v); return err },
		} {
			err := f(tt.vector)
			if err == nil {
				t.Errorf("%s(%q): no error", name, tt.vector)
				continue
			}
			if !strings.HasPrefix(err.Error(), `cvss: vector "`) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s(%q): error %q, want `cvss: vector \"…\": …%s…`", name, tt.vector, err, tt.want)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	tests := []struct{ vector, want string }{
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.0"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1"},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0"},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0"},
		{"(AV:N/AC:L/Au:N/C:P/I:P/A:P)", "2.0"},
		{"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F", "2.0"},
	}
	for _, tt := range tests {
		got, err := Version(tt.vector)
		if err != nil || got != tt.want {
			t.Errorf("Version(%q) = %q, %v; want %q", tt.vector, got, err, tt.want)
		}
	}
	if got, err := Version("CVSS:3.1/AV:N"); got != "" || err == nil {
		t.Errorf("Version of a bad vector = %q, %v; want \"\" and an error", got, err)
	}
}

func TestMetrics(t *testing.T) {
	got, err := Metrics("CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:R/C:H/I:L/A:N/E:P/CR:H")
	if err != nil {
		t.Fatal(err)
	}
	want := []Metric{
		{"Base", "AV", "Attack Vector", "N", "Network"},
		{"Base", "AC", "Attack Complexity", "L", "Low"},
		{"Base", "PR", "Privileges Required", "N", "None"},
		{"Base", "UI", "User Interaction", "R", "Required"},
		{"Base", "S", "Scope", "U", "Unchanged"},
		{"Base", "C", "Confidentiality", "H", "High"},
		{"Base", "I", "Integrity", "L", "Low"},
		{"Base", "A", "Availability", "N", "None"},
		{"Temporal", "E", "Exploit Code Maturity", "P", "Proof-of-Concept"},
		{"Environmental", "CR", "Confidentiality Requirement", "H", "High"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Metrics =\n%v\nwant\n%v", got, want)
	}

	got, err = Metrics("AV:A/AC:M/Au:S/C:C/I:N/A:P/RL:ND/CDP:LM")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || got[2] != (Metric{"Base", "Au", "Authentication", "S", "Single"}) ||
		got[6] != (Metric{"Temporal", "RL", "Remediation Level", "ND", "Not Defined"}) ||
		got[7] != (Metric{"Environmental", "CDP", "Collateral Damage Potential", "LM", "Low-Medium"}) {
		t.Errorf("Metrics(v2) = %v", got)
	}

	got, err = Metrics("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/MSI:S/U:Amber")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 14 || got[11] != (Metric{"Threat", "E", "Exploit Maturity", "A", "Attacked"}) ||
		got[12] != (Metric{"Environmental", "MSI", "Modified Subsequent System Integrity", "S", "Safety"}) ||
		got[13] != (Metric{"Supplemental", "U", "Provider Urgency", "Amber", "Amber"}) {
		t.Errorf("Metrics(v4) = %v", got)
	}
}

func TestRating(t *testing.T) {
	v3 := []struct {
		score float64
		want  string
	}{
		{0.0, "None"}, {0.1, "Low"}, {3.9, "Low"}, {4.0, "Medium"}, {6.9, "Medium"},
		{7.0, "High"}, {8.9, "High"}, {9.0, "Critical"}, {10.0, "Critical"},
		// Float noise must not cross a band edge.
		{3.9000000000000004, "Low"}, {6.999999999999999, "High"},
	}
	for _, version := range []string{"3.0", "3.1", "4.0"} {
		for _, tt := range v3 {
			if got := Rating(version, tt.score); got != tt.want {
				t.Errorf("Rating(%q, %v) = %q, want %q", version, tt.score, got, tt.want)
			}
		}
	}
	v2 := []struct {
		score float64
		want  string
	}{
		{0.0, "Low"}, {0.1, "Low"}, {3.9, "Low"}, {4.0, "Medium"}, {6.9, "Medium"},
		{7.0, "High"}, {8.9, "High"}, {9.0, "High"}, {10.0, "High"},
	}
	for _, tt := range v2 {
		if got := Rating("2.0", tt.score); got != tt.want {
			t.Errorf("Rating(\"2.0\", %v) = %q, want %q", tt.score, got, tt.want)
		}
	}
	if got := Rating("", 5); got != "" {
		t.Errorf("Rating of no version = %q, want \"\"", got)
	}
	if got := Rating("3.1", math.NaN()); got != "" {
		t.Errorf("Rating of NaN = %q, want \"\"", got)
	}
}

// TestTablesMatchLibrary checks that our metric tables accept exactly what
// go-cvss accepts, so that validation is what stands between input and the
// library's panics.
func TestTablesMatchLibrary(t *testing.T) {
	setters := map[*spec]func(abbr, value string) error{
		spec20: func(a, v string) error { var c gocvss20.CVSS20; return c.Set(a, v) },
		spec30: func(a, v string) error { var c gocvss30.CVSS30; return c.Set(a, v) },
		spec31: func(a, v string) error { var c gocvss31.CVSS31; return c.Set(a, v) },
		spec40: func(a, v string) error { var c gocvss40.CVSS40; return c.Set(a, v) },
	}
	// Every value abbreviation of every version, plus oddities.
	candidates := []string{"", "Z", "x", "nd", "clear", "RED"}
	for sp := range setters {
		for _, m := range sp.metrics {
			for _, v := range m.values {
				candidates = append(candidates, v.abbr)
			}
		}
	}
	for sp, set := range setters {
		for i, m := range sp.metrics {
			for _, c := range candidates {
				_, ours := sp.valueName(i, c)
				theirs := set(m.abbr, c) == nil
				if ours != theirs {
					t.Errorf("CVSS %s %s:%q: we accept %v, go-cvss accepts %v", sp.version, m.abbr, c, ours, theirs)
				}
			}
		}
		if err := set("ZZ", "N"); err == nil {
			t.Errorf("CVSS %s: go-cvss accepts metric ZZ", sp.version)
		}
	}
}
