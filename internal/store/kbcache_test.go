package store

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// access is one finding read: the host's position in reading order and
// its QID.
type access struct {
	rank int32
	qid  int
}

// planFor builds the plan a reader would: every (qid, host) pair, in QID
// order, with extra uses the reader never makes (Info detections, filtered
// findings) when phantoms is set.
func planFor(seq []access, phantoms []access) *plan {
	all := append(slices.Clone(seq), phantoms...)
	slices.SortFunc(all, func(a, b access) int { return a.qid - b.qid })
	return newPlan(func(yield func(int, int32) bool) {
		for _, a := range all {
			if !yield(a.qid, a.rank) {
				return
			}
		}
	})
}

// replay reads seq through a cache of max bytes, entries of size bytes
// each, and returns how many entries were loaded. Without a plan, the
// cache evicts the least recently used.
func replay(t *testing.T, seq []access, p *plan, max, size int) (loads int, c *kbCache) {
	t.Helper()
	c = newKBCache(max)
	for i, a := range seq {
		next := -int64(i)
		if p != nil {
			next = p.use(a.qid, a.rank)
		}
		k := [2]int{a.qid, 0}
		e := c.get(k, next)
		if e == nil {
			loads++
			e = &Shared{Title: string(rune('A' + a.qid%26)), KBSeverity: a.qid, size: size}
			c.put(k, e, next)
		}
		if e.KBSeverity != a.qid {
			t.Fatalf("access %d: qid %d got the entry of qid %d", i, a.qid, e.KBSeverity)
		}
		if c.bytes > max {
			t.Fatalf("access %d: cache holds %d bytes, over its %d", i, c.bytes, max)
		}
	}
	return loads, c
}

// belady counts the loads of the optimal cache of n entries: on a miss
// with the cache full, it evicts the entry needed last, or keeps out the
// new one if that is needed later still. The reference, by brute force.
func belady(seq []access, n int) int {
	nextUse := func(i int) int {
		for j := i + 1; j < len(seq); j++ {
			if seq[j].qid == seq[i].qid {
				return j
			}
		}
		return len(seq)
	}
	held := map[int]bool{}
	loads := 0
	for i, a := range seq {
		if held[a.qid] {
			continue
		}
		loads++
		if len(held) < n {
			held[a.qid] = true
			continue
		}
		far, farQID := nextUse(i), a.qid
		for q := range held {
			// The next use of q after i.
			nu := len(seq)
			for j := i + 1; j < len(seq); j++ {
				if seq[j].qid == q {
					nu = j
					break
				}
			}
			if nu > far {
				far, farQID = nu, q
			}
		}
		if farQID != a.qid {
			delete(held, farQID)
			held[a.qid] = true
		}
	}
	return loads
}

// zipf draws QIDs the way detections use them: a few everywhere, a long
// tail seen on one or two hosts.
func zipf(r *rand.Rand, n, qids int) []int {
	z := rand.NewZipf(r, 1.2, 4, uint64(qids-1))
	out := make([]int, n)
	for i := range out {
		out[i] = int(z.Uint64()) + 1
	}
	return out
}

func TestKBCacheIsOptimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// One finding per host, so that host positions order every use and
	// the plan's choices are exactly the reference's.
	var seq []access
	for i, q := range zipf(r, 3000, 400) {
		seq = append(seq, access{rank: int32(i), qid: q})
	}
	for _, n := range []int{1, 5, 20, 80} {
		got, _ := replay(t, seq, planFor(seq, nil), n*100, 100)
		want := belady(seq, n)
		lru, _ := replay(t, seq, nil, n*100, 100)
		t.Logf("%d entries: %d loads (optimal %d, least recently used %d)", n, got, want, lru)
		if got != want {
			t.Errorf("%d entries: %d loads, the optimal cache makes %d", n, got, want)
		}
		if n > 1 && got >= lru {
			t.Errorf("%d entries: %d loads, no better than least recently used (%d)", n, got, lru)
		}
	}
}

func TestKBCachePlanned(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Hosts with many findings, a QID on several ports of one host, and
	// uses the plan lists but the reader skips.
	var seq, phantoms []access
	for h := range int32(200) {
		qids := zipf(r, 1+r.IntN(30), 300)
		slices.Sort(qids)
		for _, q := range qids {
			if r.IntN(10) == 0 {
				phantoms = append(phantoms, access{rank: h, qid: q})
				continue
			}
			seq = append(seq, access{rank: h, qid: q})
		}
	}
	distinct := map[int]bool{}
	for _, a := range seq {
		distinct[a.qid] = true
	}
	lru, _ := replay(t, seq, nil, 30*100, 100)
	exact, c := replay(t, seq, planFor(seq, nil), 30*100, 100)
	// Uses the reader skips keep an entry longer than needed, no more.
	got, _ := replay(t, seq, planFor(seq, phantoms), 30*100, 100)
	t.Logf("%d reads of %d QIDs: %d loads planned (%d with uses skipped), %d least recently used", len(seq), len(distinct), exact, got, lru)
	for _, n := range []int{exact, got} {
		if n < len(distinct) || n >= lru {
			t.Errorf("%d loads: want at least one per QID (%d) and fewer than least recently used (%d)", n, len(distinct), lru)
		}
	}
	if len(c.entries) != 0 || c.bytes != 0 {
		t.Errorf("after the last read the cache holds %d entries (%d bytes): each should leave at its last use", len(c.entries), c.bytes)
	}
	// A cache that holds every QID loads each once.
	all, _ := replay(t, seq, planFor(seq, phantoms), len(distinct)*100, 100)
	if all != len(distinct) {
		t.Errorf("a cache with room for all: %d loads, want %d", all, len(distinct))
	}
}

func TestKBCacheTooBig(t *testing.T) {
	c := newKBCache(100)
	c.put([2]int{1, 0}, &Shared{size: 101}, 5)
	if len(c.entries) != 0 {
		t.Errorf("an entry larger than the cache was kept")
	}
}

// A plan tells, for each use, the position of the QID's next use, as a
// list of every use's position would: across gaps of any size (a varint
// of one to five bytes), repeated positions (a QID on two ports of one
// host) and uses never made (Info detections, filtered findings).
func TestPlanNextUse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var all []access
	for q := range 50 {
		rank := int32(0)
		for range 1 + rng.IntN(200) {
			switch rng.IntN(4) {
			case 0: // the same host again
			case 1:
				rank += int32(rng.IntN(1 << 20))
			default:
				rank += int32(1 + rng.IntN(100))
			}
			all = append(all, access{rank, q})
		}
	}
	p := planFor(all, nil)
	// What the plan must say: of each QID's positions in order, the first
	// one not yet used.
	want := map[int][]int32{}
	for _, a := range all {
		want[a.qid] = append(want[a.qid], a.rank)
	}
	for _, rs := range want {
		slices.Sort(rs)
	}
	// Reading order, skipping a use now and then.
	seq := slices.Clone(all)
	slices.SortStableFunc(seq, func(a, b access) int { return int(a.rank - b.rank) })
	for i, a := range seq {
		if i%7 == 3 {
			continue
		}
		rs := want[a.qid]
		for len(rs) > 0 && rs[0] < a.rank {
			rs = rs[1:]
		}
		if len(rs) > 0 && rs[0] == a.rank {
			rs = rs[1:]
		}
		want[a.qid] = rs
		exp := int64(never)
		if len(rs) > 0 {
			exp = int64(rs[0])
		}
		if got := p.use(a.qid, a.rank); got != exp {
			t.Fatalf("use %d of QID %d at %d: next %d, want %d", i, a.qid, a.rank, got, exp)
		}
	}
	if got := p.use(999, 0); got != never {
		t.Errorf("a QID the plan does not hold: next %d, want never", got)
	}
}

// Hosts with the same tags share one slice of them, and a set is the
// host's own whatever the caller does next with the slice it passed.
func TestTagSetsShare(t *testing.T) {
	var sets interner
	buf := []string{sets.name([]byte("DMZ")), sets.name([]byte("Prod"))}
	a := sets.set(buf)
	buf = append(buf[:0], sets.name([]byte("Lab")))
	b := sets.set(buf)
	c := sets.set([]string{"DMZ", "Prod"})
	if !slices.Equal(a, []string{"DMZ", "Prod"}) || !slices.Equal(b, []string{"Lab"}) {
		t.Fatalf("sets %q and %q, want [DMZ Prod] and [Lab]", a, b)
	}
	if &a[0] != &c[0] {
		t.Error("two hosts with the same tags hold two copies of them")
	}
	// A set is told from another by its names, not by their concatenation.
	if d := sets.set([]string{"DMZProd"}); len(d) != 1 {
		t.Errorf("[DMZProd] taken for %q", d)
	}
}
