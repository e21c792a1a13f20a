package priority

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"qvt/internal/finding"
)

// Each step of "most urgent first" decides when the steps before it tie:
// a is the more urgent of each pair.
func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b finding.Finding
	}{
		{"P1 before P2", finding.Finding{Priority: P1, Key: "z"}, finding.Finding{Priority: P2, KEV: true, EPSS: f64(1), Key: "a"}},
		{"P3 before P4", finding.Finding{Priority: P3}, finding.Finding{Priority: P4, KEV: true}},
		{"P4 before no priority", finding.Finding{Priority: P4}, finding.Finding{Priority: "", KEV: true}},
		{"kev first", finding.Finding{Priority: P2, KEV: true, Key: "z"}, finding.Finding{Priority: P2, EPSS: f64(0.9), EnvScore: f64(10), DueDate: "2020-01-01", Key: "a"}},
		{"higher epss first", finding.Finding{Priority: P2, EPSS: f64(0.5), Key: "z"}, finding.Finding{Priority: P2, EPSS: f64(0.49999), EnvScore: f64(10), Key: "a"}},
		{"epss zero before null", finding.Finding{Priority: P2, EPSS: f64(0), Key: "z"}, finding.Finding{Priority: P2, EnvScore: f64(10), Key: "a"}},
		{"higher env_score first", finding.Finding{EPSS: f64(0.2), EnvScore: f64(9.8), Key: "z"}, finding.Finding{EPSS: f64(0.2), EnvScore: f64(9.7), DueDate: "2020-01-01", Key: "a"}},
		{"env_score before null", finding.Finding{EnvScore: f64(0), Key: "z"}, finding.Finding{DueDate: "2020-01-01", Key: "a"}},
		{"earlier due date first", finding.Finding{EnvScore: f64(5), DueDate: "2025-01-09", Key: "z"}, finding.Finding{EnvScore: f64(5), DueDate: "2025-01-10", Key: "a"}},
		{"a due date before none", finding.Finding{DueDate: "2099-12-31", Key: "z"}, finding.Finding{Key: "a"}},
		{"then the key", finding.Finding{Priority: P1, KEV: true, EPSS: f64(0.3), EnvScore: f64(7), DueDate: "2025-01-01", Key: "10.0.0.1:100:0"},
			finding.Finding{Priority: P1, KEV: true, EPSS: f64(0.3), EnvScore: f64(7), DueDate: "2025-01-01", Key: "10.0.0.2:100:0"}},
	} {
		if c := Compare(&tc.a, &tc.b); c >= 0 {
			t.Errorf("%s: Compare(a, b) = %d, want < 0", tc.name, c)
		}
		if c := Compare(&tc.b, &tc.a); c <= 0 {
			t.Errorf("%s: Compare(b, a) = %d, want > 0", tc.name, c)
		}
		if c := Compare(&tc.a, &tc.a); c != 0 {
			t.Errorf("%s: Compare(a, a) = %d", tc.name, c)
		}
	}
}

// A list sorted by Compare reads as the contract says.
func TestCompareSorts(t *testing.T) {
	list := []finding.Finding{
		{Key: "p4", Priority: P4},
		{Key: "p2-null", Priority: P2},
		{Key: "p1-epss", Priority: P1, KEV: true, EPSS: f64(0.2)},
		{Key: "p2-kev", Priority: P2, KEV: true},
		{Key: "p1-epss-hi", Priority: P1, KEV: true, EPSS: f64(0.9)},
		{Key: "p2-env", Priority: P2, EnvScore: f64(8)},
		{Key: "p2-epss", Priority: P2, EPSS: f64(0.1)},
		{Key: "p3-due", Priority: P3, DueDate: "2025-02-01"},
		{Key: "p3-nodue", Priority: P3},
		{Key: "p3-due-early", Priority: P3, DueDate: "2025-01-01"},
	}
	slices.SortFunc(list, func(a, b finding.Finding) int { return Compare(&a, &b) })
	var got []string
	for _, f := range list {
		got = append(got, f.Key)
	}
	want := []string{"p1-epss-hi", "p1-epss", "p2-kev", "p2-epss", "p2-env", "p2-null", "p3-due-early", "p3-due", "p3-nodue", "p4"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n got %v\nwant %v", got, want)
	}
}

// Urgency, sorted descending, orders as Compare's kev, epss and env_score
// steps do, for values at the precision the feeds write (EPSS five
// decimals, CVSS one).
func TestUrgencyAgreesWithCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2025))
	pick := func() (bool, *float64, *float64) {
		var epss, env *float64
		if rng.IntN(4) > 0 {
			v := float64(rng.IntN(100_001)) / 1e5
			if rng.IntN(5) == 0 { // near ties and the ends
				v = []float64{0, 0.1, 0.10001, 0.09999, 1}[rng.IntN(5)]
			}
			epss = &v
		}
		if rng.IntN(4) > 0 {
			v := float64(rng.IntN(101)) / 10
			env = &v
		}
		return rng.IntN(3) == 0, epss, env
	}
	for n := 0; n < 200_000; n++ {
		ka, ea, va := pick()
		kb, eb, vb := pick()
		a := finding.Finding{KEV: ka, EPSS: ea, EnvScore: va, Key: "k"}
		bb := finding.Finding{KEV: kb, EPSS: eb, EnvScore: vb, Key: "k"}
		want := Compare(&a, &bb)
		got := cmp.Compare(Urgency(kb, eb, vb), Urgency(ka, ea, va)) // descending
		if got != want {
			t.Fatalf("kev %v epss %v env %v against kev %v epss %v env %v: Compare %d, Urgency %d (%d, %d)",
				ka, deref(ea), deref(va), kb, deref(eb), deref(vb), want, got, Urgency(ka, ea, va), Urgency(kb, eb, vb))
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestUrgencyValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		kev  bool
		epss *float64
		env  *float64
		want int64
	}{
		{"none", false, nil, nil, 0},
		{"kev alone", true, nil, nil, 1_000_000_000_000},
		{"epss zero is above null", false, f64(0), nil, 10_000},
		{"epss 0.1", false, f64(0.1), nil, 10_001 * 10_000},
		{"env 9.8", false, nil, f64(9.8), 981},
		{"all", true, f64(1), f64(10), 1_000_000_000_000 + 100_001*10_000 + 1001},
		{"clamped over", false, f64(7), f64(99), 100_001*10_000 + 1001},
		{"clamped under", false, f64(-1), f64(-3), 10_000 + 1},
	} {
		if got := Urgency(tc.kev, tc.epss, tc.env); got != tc.want {
			t.Errorf("%s: Urgency = %d, want %d", tc.name, got, tc.want)
		}
	}
}
