package priority

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"qvt/internal/finding"
)

// benchInputs are findings as a large store holds them: most with a low
// EPSS and no KEV, about 1% KEV, 5% EPSS ≥ 0.1, a few with threat intel.
func benchInputs(n int) []Input {
	rng := rand.New(rand.NewPCG(1, 2))
	ratings := finding.Ratings
	out := make([]Input, n)
	for k := range out {
		e := rng.Float64() * rng.Float64() * rng.Float64() * 0.5
		in := Input{EPSS: &e, Rating: ratings[rng.IntN(len(ratings))], FirstFound: at("2024-06-01") + int64(rng.IntN(300))*86400,
			BreachDate: "2025-03-01"}
		if rng.IntN(100) == 0 {
			in.KEV, in.KEVDateAdded = true, "2024-09-1"+strconv.Itoa(rng.IntN(10))
		}
		if rng.IntN(10) == 0 {
			in.ThreatIntel = []string{"Exploit_Public", "Easy_Exploit"}
		}
		q := rng.IntN(100) + 1
		in.QDS = &q
		out[k] = in
	}
	return out
}

// BenchmarkEval: every finding is evaluated again on each new EPSS file,
// a million of them in a large store.
func BenchmarkEval(b *testing.B) {
	p := Default()
	ins := benchInputs(4096)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := p.Eval(ins[n&4095])
		n++
		_ = r
	}
}

func BenchmarkEvalCustom(b *testing.B) {
	p := Policy{Rules: []Rule{
		{Name: "ransomware", Priority: P1, When: Conditions{KEVRansomware: b2(true)}},
		{Name: "kev", Priority: P1, When: Conditions{KEV: b2(true)}},
		{Name: "pci", Priority: P2, When: Conditions{RatingAtLeast: "Medium", Tags: []string{"PCI", "SOX"}}},
		{Name: "hot", Priority: P2, When: Conditions{PercentileAtLeast: f64(0.95), ThreatIntel: ExploitedThreatIntel}},
		{Name: "severe", Priority: P3, When: Conditions{RatingAtLeast: "High"}},
		{Name: "rest", Priority: P4},
	}, Days: map[string]int{P1: 7, P2: 30, P3: 90, P4: 365}}
	ins := benchInputs(4096)
	for k := range ins {
		ins[k].Tags = []string{"Cloud Agent", "Linux", "DMZ"}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = p.Eval(ins[n&4095])
		n++
	}
}

func b2(v bool) *bool { return &v }

// BenchmarkPlannerAdd: a plan reads every open finding of the store.
func BenchmarkPlannerAdd(b *testing.B) {
	ins := benchInputs(4096)
	fs := make([]finding.Finding, len(ins))
	for k, in := range ins {
		r := Default().Eval(in)
		qid := 1000 + k%700
		fs[k] = finding.Finding{HostID: int64(k / 20), IP: "10.0.0.1", QID: qid, Key: strconv.Itoa(k),
			Priority: r.Priority, DueDate: r.DueDate, EPSS: in.EPSS, KEV: in.KEV, Title: "t", Solution: "s"}
		if qid%3 != 0 {
			fs[k].VendorRefs = []string{"RHSA-2024:" + strconv.Itoa(qid/4)}
		}
	}
	p := NewPlanner("2025-01-01")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Add(&fs[n&4095])
		n++
	}
}
