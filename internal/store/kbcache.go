package store

import (
	"math"
	"slices"
)

// A finding list repeats each QID's KB text on every host that has it, and
// reading an entry from the store costs tens of microseconds: a million
// findings over a hundred thousand QIDs would spend most of an export
// reading the same entries again. The reader keeps them in a kbCache of
// bounded size. When the whole list is read, a plan made first tells,
// for every QID, which hosts in reading order have it: the cache then
// keeps the entries needed soonest and evicts the one needed last
// (Belady's rule, the best any cache of its size can do). It never keeps
// an entry past its last use, nor one that would be needed later than
// every entry it holds. A read of a few hosts or QIDs has no plan and
// evicts the entry used least recently. The plan costs 4 bytes a
// detection (4 MB for a million), far less than the cache it steers.

// never is the next use of an entry that is not needed again.
const never = math.MaxInt64

// plan holds, per QID, the reading positions of the hosts that have it.
type plan struct {
	at    map[int]*[2]int32 // qid → [cursor, end) in ranks
	ranks []int32           // host positions, ascending per QID
}

// newPlan builds a plan from (qid, host position) pairs given in QID order.
func newPlan(pairs func(yield func(qid int, rank int32) bool)) *plan {
	p := &plan{at: map[int]*[2]int32{}}
	start, cur := int32(0), -1
	end := func() {
		if cur >= 0 {
			slices.Sort(p.ranks[start:])
			p.at[cur] = &[2]int32{start, int32(len(p.ranks))}
		}
	}
	for qid, rank := range pairs {
		if qid != cur {
			end()
			cur, start = qid, int32(len(p.ranks))
		}
		p.ranks = append(p.ranks, rank)
	}
	end()
	return p
}

// use records a use of qid by the host at position rank and returns the
// position of its next use (never if there is none). Uses the plan knows
// of but that were not read (filtered out, Info detections) are skipped.
func (p *plan) use(qid int, rank int32) int64 {
	c, ok := p.at[qid]
	if !ok {
		return never
	}
	for c[0] < c[1] && p.ranks[c[0]] < rank {
		c[0]++
	}
	if c[0] < c[1] && p.ranks[c[0]] == rank {
		c[0]++
	}
	if c[0] < c[1] {
		return int64(p.ranks[c[0]])
	}
	return never
}

// kbCache is a bounded cache of Shared entries keyed by (qid, policy).
// Each entry carries a priority, its next use: the entry with the largest
// is evicted first.
type kbCache struct {
	max     int
	bytes   int
	entries map[[2]int]*Shared
	queue   nextUses
	stamps  uint64 // tells a queued item from later ones of the same key
}

func newKBCache(max int) *kbCache {
	return &kbCache{max: max, entries: map[[2]int]*Shared{}}
}

// get returns a cached entry and gives it its next use; an entry not
// needed again leaves.
func (c *kbCache) get(k [2]int, next int64) *Shared {
	e, ok := c.entries[k]
	if !ok {
		return nil
	}
	if next == never {
		c.drop(k, e)
		return e
	}
	c.setNext(k, e, next)
	return e
}

// put offers a loaded entry. It stays out if it is not needed again, or if
// making room would evict only entries needed sooner.
func (c *kbCache) put(k [2]int, e *Shared, next int64) {
	if next == never || e.size > c.max {
		return
	}
	for c.bytes+e.size > c.max {
		lk, le, lnext := c.latest()
		if lnext < next {
			return
		}
		c.drop(lk, le)
	}
	c.entries[k] = e
	c.bytes += e.size
	c.setNext(k, e, next)
}

func (c *kbCache) setNext(k [2]int, e *Shared, next int64) {
	e.next = next
	c.stamps++
	e.stamp = c.stamps
	c.queue.push(nextUse{next: next, key: k, stamp: e.stamp})
	// Each use queues a new item and leaves the old one stale; rebuild
	// the queue before the stale ones outnumber the live ones.
	if len(c.queue) > 2*len(c.entries)+1024 {
		c.queue = c.queue[:0]
		for k, e := range c.entries {
			c.queue = append(c.queue, nextUse{next: e.next, key: k, stamp: e.stamp})
		}
		c.queue.init()
	}
}

// latest returns the cached entry whose next use is the latest. The cache
// must not be empty.
func (c *kbCache) latest() ([2]int, *Shared, int64) {
	for {
		top := c.queue[0]
		if e, ok := c.entries[top.key]; ok && e.stamp == top.stamp {
			return top.key, e, top.next
		}
		c.queue.pop()
	}
}

func (c *kbCache) drop(k [2]int, e *Shared) {
	delete(c.entries, k)
	c.bytes -= e.size
}

type nextUse struct {
	next  int64
	key   [2]int
	stamp uint64
}

// nextUses is a max-heap on next (container/heap would box each item).
type nextUses []nextUse

func (q *nextUses) push(x nextUse) {
	*q = append(*q, x)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].next >= h[i].next {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *nextUses) pop() {
	h := *q
	n := len(h) - 1
	h[0] = h[n]
	*q = h[:n]
	q.down(0)
}

func (q nextUses) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (q nextUses) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if r := l + 1; r < len(q) && q[r].next > q[l].next {
			m = r
		}
		if q[i].next >= q[m].next {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}
