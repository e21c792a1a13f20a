package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/priority"
	"qvt/internal/store"
)

// randomFindings draws findings that tie often on each step of the order.
func randomFindings(n int, seed uint64) []*finding.Finding {
	rng := rand.New(rand.NewPCG(seed, 1))
	opt := func(vals ...float64) *float64 {
		if rng.IntN(4) == 0 {
			return nil
		}
		v := vals[rng.IntN(len(vals))]
		return &v
	}
	out := make([]*finding.Finding, n)
	for i := range out {
		f := &finding.Finding{
			Key:      fmt.Sprintf("10.0.%d.%d:%d:%d", rng.IntN(3), rng.IntN(200), 100000+rng.IntN(50), rng.IntN(3)*443),
			Priority: []string{"P1", "P2", "P3", "P4", ""}[rng.IntN(5)],
			KEV:      rng.IntN(3) == 0,
			EPSS:     opt(0, 0.00043, 0.1, 0.97, 1),
			EnvScore: opt(0, 5.3, 9.8, 10),
			DueDate:  []string{"", "2025-01-09", "2025-03-15", "2026-12-31"}[rng.IntN(4)],
		}
		f.IP, _, _, _ = finding.ParseKey(f.Key)
		f.Tags, f.VendorRefs, f.CVEs, f.KEVCVEs, f.ThreatIntel = []string{}, []string{}, []string{}, []string{}, []string{}
		out[i] = f
	}
	return out
}

type collect struct{ got []*finding.Finding }

func (c *collect) Write(r *store.Row) error { f := r.Finding; c.got = append(c.got, &f); return nil }
func (c *collect) Close() error             { return nil }

// A sorted export gives the contract's order (priority.Compare, which
// the priority package's tests hold to the contract) whether it fits in
// memory or is sorted in runs on disk and merged.
func TestSortedExport(t *testing.T) {
	for _, budget := range []int{1 << 30, 200_000, 20_000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			defer func(b int) { sortBudget = b }(sortBudget)
			sortBudget = budget
			in := randomFindings(3000, uint64(budget))
			c := &collect{}
			w := Sorted(c, t.TempDir())
			for _, f := range in {
				if err := w.Write(&store.Row{Finding: *f}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(in)
			slices.SortStableFunc(want, priority.Compare)
			if len(c.got) != len(want) {
				t.Fatalf("%d findings out of %d", len(c.got), len(want))
			}
			for i := range want {
				g, w := c.got[i], want[i]
				if g.Key != w.Key || g.Priority != w.Priority || priority.Compare(g, w) != 0 {
					t.Fatalf("finding %d: %s %s, want %s %s", i, g.Key, g.Priority, w.Key, w.Priority)
				}
			}
		})
	}
}
