package gen

import (
	"math"
	"strconv"
)

// CVSS vectors are drawn metric by metric from distributions close to
// NVD's, and scored here with the v2 and v3.x formulas so that baseScore,
// exploitabilityScore and impactScore in generated records are the real
// values. v4 has no formula (it is a lookup over macro vectors), so v4
// vectors come from a table scored once with the FIRST calculator's
// algorithm.

// metric is one CVSS metric: its abbreviation, its values' letters, their
// NVD JSON names, their weights, and how often each value is drawn.
type metric struct {
	abbr    string
	letters []string
	names   []string
	weights []float64
	freq    []int
}

var (
	v3AV = metric{"AV", []string{"N", "A", "L", "P"}, []string{"NETWORK", "ADJACENT_NETWORK", "LOCAL", "PHYSICAL"}, []float64{0.85, 0.62, 0.55, 0.2}, []int{62, 5, 30, 3}}
	v3AC = metric{"AC", []string{"L", "H"}, []string{"LOW", "HIGH"}, []float64{0.77, 0.44}, []int{86, 14}}
	v3PR = metric{"PR", []string{"N", "L", "H"}, []string{"NONE", "LOW", "HIGH"}, []float64{0.85, 0.62, 0.27}, []int{56, 33, 11}}
	v3UI = metric{"UI", []string{"N", "R"}, []string{"NONE", "REQUIRED"}, []float64{0.85, 0.62}, []int{66, 34}}
	v3S  = metric{"S", []string{"U", "C"}, []string{"UNCHANGED", "CHANGED"}, nil, []int{83, 17}}
	v3C  = metric{"C", []string{"H", "L", "N"}, []string{"HIGH", "LOW", "NONE"}, []float64{0.56, 0.22, 0}, []int{58, 20, 22}}
	v3I  = metric{"I", v3C.letters, v3C.names, v3C.weights, []int{52, 24, 24}}
	v3A  = metric{"A", v3C.letters, v3C.names, v3C.weights, []int{55, 8, 37}}
	v3E  = metric{"E", []string{"X", "U", "P", "F", "H"}, nil, []float64{1, 0.91, 0.94, 0.97, 1}, []int{4, 44, 32, 12, 8}}
	v3RL = metric{"RL", []string{"X", "O", "T", "W", "U"}, nil, []float64{1, 0.95, 0.96, 0.97, 1}, []int{4, 80, 5, 5, 6}}
	v3RC = metric{"RC", []string{"X", "C", "R", "U"}, nil, []float64{1, 1, 0.96, 0.92}, []int{3, 88, 6, 3}}

	v2AV = metric{"AV", []string{"N", "A", "L"}, []string{"NETWORK", "ADJACENT_NETWORK", "LOCAL"}, []float64{1, 0.646, 0.395}, []int{72, 4, 24}}
	v2AC = metric{"AC", []string{"L", "M", "H"}, []string{"LOW", "MEDIUM", "HIGH"}, []float64{0.71, 0.61, 0.35}, []int{60, 33, 7}}
	v2Au = metric{"Au", []string{"N", "S", "M"}, []string{"NONE", "SINGLE", "MULTIPLE"}, []float64{0.704, 0.56, 0.45}, []int{84, 15, 1}}
	v2C  = metric{"C", []string{"N", "P", "C"}, []string{"NONE", "PARTIAL", "COMPLETE"}, []float64{0, 0.275, 0.660}, []int{30, 52, 18}}
	v2I  = metric{"I", v2C.letters, v2C.names, v2C.weights, []int{28, 55, 17}}
	v2A  = metric{"A", v2C.letters, v2C.names, v2C.weights, []int{32, 50, 18}}
	v2E  = metric{"E", []string{"ND", "U", "POC", "F", "H"}, nil, []float64{1, 0.85, 0.9, 0.95, 1}, []int{5, 45, 32, 12, 6}}
	v2RL = metric{"RL", []string{"ND", "OF", "TF", "W", "U"}, nil, []float64{1, 0.87, 0.90, 0.95, 1}, []int{4, 82, 5, 4, 5}}
	v2RC = metric{"RC", []string{"ND", "C", "UR", "UC"}, nil, []float64{1, 1, 0.95, 0.90}, []int{3, 88, 6, 3}}
)

var (
	v3Base = []*metric{&v3AV, &v3AC, &v3PR, &v3UI, &v3S, &v3C, &v3I, &v3A}
	v2Base = []*metric{&v2AV, &v2AC, &v2Au, &v2C, &v2I, &v2A}
)

// cvss3 is a v3.0 or v3.1 vector as value indexes into the v3 metrics.
// Temporal metrics are 0 (X) when absent.
type cvss3 struct {
	minor       byte // 0 or 1
	base        [8]byte
	e, rl, rc   byte
	hasTemporal bool
}

// cvss2 is a v2 vector; temporal metrics are written only when hasTemporal.
type cvss2 struct {
	base        [6]byte
	e, rl, rc   byte
	hasTemporal bool
}

func drawMetric(r *rnd, m *metric) byte { return byte(r.weighted(m.freq)) }

// newCVSS3 draws a base vector; all-None impacts are redrawn, since NVD
// scores them 0.0 and they are rare.
func newCVSS3(r *rnd, minor byte) cvss3 {
	v := cvss3{minor: minor}
	for {
		for i, m := range v3Base {
			v.base[i] = drawMetric(r, m)
		}
		if v.base[5] != 2 || v.base[6] != 2 || v.base[7] != 2 {
			return v
		}
	}
}

// withTemporal adds exploit maturity, remediation level and confidence, as
// Qualys puts on most v3 blocks.
func (v cvss3) withTemporal(r *rnd) cvss3 {
	v.hasTemporal = true
	v.e, v.rl, v.rc = drawMetric(r, &v3E), drawMetric(r, &v3RL), drawMetric(r, &v3RC)
	return v
}

// mutate changes one or two base metrics: how a CNA's score differs from
// NVD's.
func (v cvss3) mutate(r *rnd) cvss3 {
	for range 1 + r.intn(2) {
		i := r.intn(len(v3Base))
		v.base[i] = byte(r.intn(len(v3Base[i].letters)))
	}
	if v.base[5] == 2 && v.base[6] == 2 && v.base[7] == 2 {
		v.base[5] = 1
	}
	return v
}

func (v cvss3) version() string {
	if v.minor == 0 {
		return "3.0"
	}
	return "3.1"
}

func (v cvss3) appendVector(b []byte, temporal bool) []byte {
	b = append(b, "CVSS:3."...)
	b = append(b, '0'+v.minor)
	for i, m := range v3Base {
		b = append(b, '/')
		b = append(b, m.abbr...)
		b = append(b, ':')
		b = append(b, m.letters[v.base[i]]...)
	}
	if temporal && v.hasTemporal {
		for _, t := range []struct {
			m *metric
			v byte
		}{{&v3E, v.e}, {&v3RL, v.rl}, {&v3RC, v.rc}} {
			b = append(b, '/')
			b = append(b, t.m.abbr...)
			b = append(b, ':')
			b = append(b, t.m.letters[t.v]...)
		}
	}
	return b
}

func (v cvss3) vector(temporal bool) string {
	var buf [80]byte
	return string(v.appendVector(buf[:0], temporal))
}

// roundup is CVSS v3.1's Roundup (Appendix A), which avoids float noise.
func roundup(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

// round1 rounds half up to one decimal; the epsilon makes exact ties such
// as 8.55 go up despite binary floats, as NVD's calculator does.
func round1(x float64) float64 { return math.Floor(x*10+0.5+1e-9) / 10 }

// scores returns the v3 base score, NVD's impact and exploitability
// sub-scores (rounded to one decimal), and the temporal score.
func (v cvss3) scores() (base, impact, expl, temporal float64) {
	w := func(i int) float64 { return v3Base[i].weights[v.base[i]] }
	changed := v.base[4] == 1
	pr := w(2)
	if changed && v.base[2] == 1 {
		pr = 0.68
	} else if changed && v.base[2] == 2 {
		pr = 0.5
	}
	iss := 1 - (1-w(5))*(1-w(6))*(1-w(7))
	imp := 6.42 * iss
	if changed {
		imp = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	ex := 8.22 * w(0) * w(1) * pr * w(3)
	switch {
	case imp <= 0:
		base = 0
	case changed:
		base = roundup(math.Min(1.08*(imp+ex), 10))
	default:
		base = roundup(math.Min(imp+ex, 10))
	}
	temporal = base
	if v.hasTemporal {
		temporal = roundup(base * v3E.weights[v.e] * v3RL.weights[v.rl] * v3RC.weights[v.rc])
	}
	return base, round1(math.Max(imp, 0)), round1(ex), temporal
}

func newCVSS2(r *rnd) cvss2 {
	var v cvss2
	for {
		for i, m := range v2Base {
			v.base[i] = drawMetric(r, m)
		}
		if v.base[3] != 0 || v.base[4] != 0 || v.base[5] != 0 {
			return v
		}
	}
}

func (v cvss2) withTemporal(r *rnd) cvss2 {
	v.hasTemporal = true
	v.e, v.rl, v.rc = drawMetric(r, &v2E), drawMetric(r, &v2RL), drawMetric(r, &v2RC)
	return v
}

func (v cvss2) appendVector(b []byte, temporal bool) []byte {
	for i, m := range v2Base {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, m.abbr...)
		b = append(b, ':')
		b = append(b, m.letters[v.base[i]]...)
	}
	if temporal && v.hasTemporal {
		b = append(b, "/E:"...)
		b = append(b, v2E.letters[v.e]...)
		b = append(b, "/RL:"...)
		b = append(b, v2RL.letters[v.rl]...)
		b = append(b, "/RC:"...)
		b = append(b, v2RC.letters[v.rc]...)
	}
	return b
}

func (v cvss2) vector(temporal bool) string {
	var buf [64]byte
	return string(v.appendVector(buf[:0], temporal))
}

// scores returns the v2 base score, impact and exploitability sub-scores
// and the temporal score.
func (v cvss2) scores() (base, impact, expl, temporal float64) {
	w := func(i int) float64 { return v2Base[i].weights[v.base[i]] }
	imp := 10.41 * (1 - (1-w(3))*(1-w(4))*(1-w(5)))
	ex := 20 * w(0) * w(1) * w(2)
	f := 1.176
	if imp == 0 {
		f = 0
	}
	base = round1((0.6*imp + 0.4*ex - 1.5) * f)
	temporal = base
	if v.hasTemporal {
		temporal = round1(base * v2E.weights[v.e] * v2RL.weights[v.rl] * v2RC.weights[v.rc])
	}
	return base, round1(imp), round1(ex), temporal
}

// severity3 is the v3 and v4 rating of a score.
func severity3(s float64) string {
	switch {
	case s == 0:
		return "NONE"
	case s < 4:
		return "LOW"
	case s < 7:
		return "MEDIUM"
	case s < 9:
		return "HIGH"
	}
	return "CRITICAL"
}

// severity2 is NVD's v2 rating (no None, no Critical).
func severity2(s float64) string {
	switch {
	case s < 4:
		return "LOW"
	case s < 7:
		return "MEDIUM"
	}
	return "HIGH"
}

func fmtScore(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) }

// qualysImpact gives the IMPACT codes of a Qualys CVSS block: 1 for None,
// 2 for Partial/Low, 3 for Complete/High.
func qualysImpact3(idx byte) string { return [...]string{"3", "2", "1"}[idx] }
func qualysImpact2(idx byte) string { return [...]string{"1", "2", "3"}[idx] }

// cvss4 is an entry of the v4 table.
type cvss4 struct {
	vector string // base metrics only, "CVSS:4.0/AV:N/..."
	score  float64
}

// v4Expanded is the suffix some CNAs (VulDB) append: every other metric,
// Not Defined. It does not change the score.
const v4Expanded = "/E:X/CR:X/IR:X/AR:X/MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/AU:X/R:X/V:X/RE:X/U:X"

// v4Names are the NVD JSON names and value names of the v4 base metrics,
// in vector order.
var v4Names = []struct {
	json   string
	abbr   string
	values map[byte]string
}{
	{"attackVector", "AV", map[byte]string{'N': "NETWORK", 'A': "ADJACENT", 'L': "LOCAL", 'P': "PHYSICAL"}},
	{"attackComplexity", "AC", map[byte]string{'L': "LOW", 'H': "HIGH"}},
	{"attackRequirements", "AT", map[byte]string{'N': "NONE", 'P': "PRESENT"}},
	{"privilegesRequired", "PR", map[byte]string{'N': "NONE", 'L': "LOW", 'H': "HIGH"}},
	{"userInteraction", "UI", map[byte]string{'N': "NONE", 'P': "PASSIVE", 'A': "ACTIVE"}},
	{"vulnerableSystemConfidentiality", "VC", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
	{"vulnerableSystemIntegrity", "VI", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
	{"vulnerableSystemAvailability", "VA", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
	{"subsequentSystemConfidentiality", "SC", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
	{"subsequentSystemIntegrity", "SI", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
	{"subsequentSystemAvailability", "SA", map[byte]string{'H': "HIGH", 'L': "LOW", 'N': "NONE"}},
}

// v4NotDefined are the NVD JSON fields of the v4 metrics other than the
// base ones, all NOT_DEFINED in generated records (as in most real ones).
var v4NotDefined = []string{
	"exploitMaturity", "confidentialityRequirements", "integrityRequirements", "availabilityRequirements",
	"modifiedAttackVector", "modifiedAttackComplexity", "modifiedAttackRequirements", "modifiedPrivilegesRequired",
	"modifiedUserInteraction", "modifiedVulnerableSystemConfidentiality", "modifiedVulnerableSystemIntegrity",
	"modifiedVulnerableSystemAvailability", "modifiedSubsequentSystemConfidentiality", "modifiedSubsequentSystemIntegrity",
	"modifiedSubsequentSystemAvailability", "safety", "automatable", "recovery", "valueDensity",
	"vulnerabilityResponseEffort", "providerUrgency",
}

// v4Table holds v4.0 base vectors with their scores, computed with the
// FIRST v4.0 calculator's algorithm (go-cvss 40 with the late-2024
// rounding fix, as patched in third_party/go-cvss). gen_test checks them.
var v4Table = []cvss4{
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:H/SC:N/SI:N/SA:L", 7.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 7.1},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:L/VI:H/VA:N/SC:N/SI:N/SA:N", 6.8},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:H/VI:N/VA:H/SC:H/SI:L/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:L/VA:H/SC:N/SI:N/SA:N", 7.1},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:L/VA:H/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:N/VC:H/VI:L/VA:H/SC:N/SI:N/SA:L", 6.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:H/VI:N/VA:N/SC:H/SI:H/SA:N", 8.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:L/SI:N/SA:N", 8.7},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.7},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:L/SC:N/SI:L/SA:N", 9.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:L/VA:H/SC:L/SI:N/SA:N", 7.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:L/SI:N/SA:N", 8.6},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:H/SC:N/SI:N/SA:N", 7.1},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:L/SC:N/SI:L/SA:H", 8.3},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:L/SA:N", 7.0},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:L/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", 7.6},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:L/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:H/SC:N/SI:N/SA:N", 8.8},
	{"CVSS:4.0/AV:A/AC:L/AT:P/PR:N/UI:N/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N", 6.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:L/VA:H/SC:H/SI:N/SA:N", 8.3},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:L/SA:N", 6.8},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:P/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N", 5.2},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:N/VI:H/VA:L/SC:N/SI:N/SA:N", 6.0},
	{"CVSS:4.0/AV:L/AC:H/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:A/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N", 6.8},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:L/VI:H/VA:N/SC:N/SI:L/SA:N", 6.8},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:L/SC:N/SI:N/SA:N", 8.7},
	{"CVSS:4.0/AV:A/AC:L/AT:P/PR:L/UI:N/VC:L/VI:N/VA:H/SC:N/SI:N/SA:N", 5.9},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:A/VC:L/VI:H/VA:N/SC:H/SI:L/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:L/VA:H/SC:N/SI:N/SA:H", 9.0},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:L/SI:N/SA:N", 8.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:H", 6.3},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:L/SA:N", 9.1},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:L/SC:H/SI:N/SA:N", 8.4},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N", 8.3},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:P/VC:L/VI:L/VA:L/SC:L/SI:H/SA:N", 4.8},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:L/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:N/VA:H/SC:N/SI:N/SA:N", 8.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:L/SA:N", 9.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", 9.3},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L", 7.0},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:H/SC:N/SI:N/SA:N", 7.1},
	{"CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:A/VC:L/VI:N/VA:H/SC:N/SI:N/SA:N", 5.7},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:H/VI:H/VA:L/SC:L/SI:L/SA:N", 8.6},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:L/SA:N", 5.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:H/VA:N/SC:L/SI:H/SA:N", 9.2},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:H/SA:L", 9.3},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:P/VC:H/VI:L/VA:N/SC:N/SI:L/SA:N", 5.2},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:N/SC:N/SI:L/SA:N", 8.6},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:A/VC:N/VI:H/VA:H/SC:N/SI:N/SA:H", 8.2},
	{"CVSS:4.0/AV:L/AC:H/AT:N/PR:L/UI:P/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N", 4.4},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:L/VI:N/VA:H/SC:L/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:H/SA:N", 8.2},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:H", 9.2},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:N/VI:N/VA:H/SC:N/SI:L/SA:N", 6.8},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:P/VC:N/VI:H/VA:H/SC:N/SI:H/SA:N", 6.8},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:H/SC:L/SI:N/SA:N", 8.8},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.5},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:H/SC:N/SI:L/SA:N", 7.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.6},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N", 5.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:N/VA:H/SC:L/SI:L/SA:N", 7.0},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:L/SI:N/SA:L", 5.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:H", 9.2},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:N/VC:L/VI:N/VA:L/SC:N/SI:N/SA:H", 4.6},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:H/SI:N/SA:N", 9.2},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:L/SI:L/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:H/VA:H/SC:N/SI:L/SA:N", 8.8},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:L/SC:L/SI:N/SA:H", 9.3},
	{"CVSS:4.0/AV:L/AC:H/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N", 5.8},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", 9.1},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:N/SA:N", 8.7},
	{"CVSS:4.0/AV:N/AC:H/AT:P/PR:L/UI:N/VC:L/VI:N/VA:H/SC:N/SI:N/SA:N", 6.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:H/SC:N/SI:N/SA:N", 8.8},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:P/VC:L/VI:H/VA:L/SC:H/SI:L/SA:L", 7.1},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:H/VA:L/SC:L/SI:N/SA:N", 7.2},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:N/SC:N/SI:N/SA:N", 7.0},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:P/AC:L/AT:N/PR:L/UI:N/VC:N/VI:L/VA:H/SC:N/SI:H/SA:N", 6.7},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N", 8.8},
	{"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:P/VC:N/VI:L/VA:N/SC:N/SI:N/SA:H", 6.1},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:N/VA:H/SC:N/SI:L/SA:N", 8.3},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:A/VC:L/VI:L/VA:H/SC:N/SI:N/SA:N", 6.9},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:N/VC:H/VI:L/VA:H/SC:N/SI:L/SA:N", 6.1},
	{"CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N", 4.6},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:H/SC:N/SI:H/SA:H", 8.5},
}
