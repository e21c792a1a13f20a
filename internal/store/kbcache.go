package store

import (
	"encoding/binary"
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
// evicts the entry used least recently. The plan costs a byte or two a
// detection, far less than the cache it steers.

// never is the next use of an entry that is not needed again.
const never = math.MaxInt64

// plan holds, per QID, the reading positions of the hosts that have it,
// ascending, each as its distance from the one before in a varint: most
// QIDs are on many hosts, so the distances are small, and the plan costs
// one or two bytes a detection where an int32 each would cost four (40
// MB at ten million detections).
type plan struct {
	at   map[int32]int32 // qid → its cursor in cur
	cur  []planCursor
	enc  []byte // every QID's positions, one run after another
	runs []int32
}

// planCursor reads one QID's run of enc: next is the first position not
// yet used (-1 past the last), off the offset of the one after it, end
// the end of the run.
type planCursor struct {
	next, off, end int32
}

// newPlan builds a plan from (qid, host position) pairs given in QID order.
func newPlan(pairs func(yield func(qid int, rank int32) bool)) *plan {
	p := &plan{at: map[int32]int32{}}
	cur := -1
	end := func() {
		if cur < 0 {
			return
		}
		slices.Sort(p.runs)
		start := int32(len(p.enc))
		prev := int32(0)
		for _, r := range p.runs {
			p.enc = binary.AppendUvarint(p.enc, uint64(r-prev))
			prev = r
		}
		c := planCursor{off: start, end: int32(len(p.enc))}
		c.advance(p.enc) // the first position: its distance from 0
		p.at[int32(cur)] = int32(len(p.cur))
		p.cur = append(p.cur, c)
		p.runs = p.runs[:0]
	}
	for qid, rank := range pairs {
		if qid != cur {
			end()
			cur = qid
		}
		p.runs = append(p.runs, rank)
	}
	end()
	p.runs = nil
	return p
}

// advance moves c to the next position of its run, or past the last.
func (c *planCursor) advance(enc []byte) {
	if c.off >= c.end {
		c.next = -1
		return
	}
	d, n := binary.Uvarint(enc[c.off:c.end])
	c.off += int32(n)
	c.next += int32(d)
}

// use records a use of qid by the host at position rank and returns the
// position of its next use (never if there is none). Uses the plan knows
// of but that were not read (filtered out, Info detections) are skipped.
func (p *plan) use(qid int, rank int32) int64 {
	i, ok := p.at[int32(qid)]
	if !ok {
		return never
	}
	c := &p.cur[i]
	for c.next >= 0 && c.next < rank {
		c.advance(p.enc)
	}
	if c.next == rank {
		c.advance(p.enc)
	}
	if c.next >= 0 {
		return int64(c.next)
	}
	return never
}

// kbCache is a bounded cache of Shared entries keyed by (qid, policy).
// Each entry carries a priority, its next use: the entry with the largest
// is evicted first. The bookkeeping is the cache's own, not the entry's:
// on PostgreSQL the findings that point at an entry are consumed on
// another goroutine while the cache goes on.
type kbCache struct {
	max     int
	bytes   int
	entries map[[2]int]*kbEntry
	queue   nextUses
	stamps  uint64 // tells a queued item from later ones of the same key
}

type kbEntry struct {
	e     *Shared
	next  int64  // its next use
	stamp uint64 // its queued item
}

func newKBCache(max int) *kbCache {
	return &kbCache{max: max, entries: map[[2]int]*kbEntry{}}
}

// has tells whether the cache holds the entry of k.
func (c *kbCache) has(k [2]int) bool { return c.entries[k] != nil }

// get returns a cached entry and gives it its next use; an entry not
// needed again leaves.
func (c *kbCache) get(k [2]int, next int64) *Shared {
	en, ok := c.entries[k]
	if !ok {
		return nil
	}
	if next == never {
		c.drop(k, en)
		return en.e
	}
	c.setNext(k, en, next)
	return en.e
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
	en := &kbEntry{e: e}
	c.entries[k] = en
	c.bytes += e.size
	c.setNext(k, en, next)
}

func (c *kbCache) setNext(k [2]int, en *kbEntry, next int64) {
	en.next = next
	c.stamps++
	en.stamp = c.stamps
	c.queue.push(nextUse{next: next, key: k, stamp: en.stamp})
	// Each use queues a new item and leaves the old one stale; rebuild
	// the queue before the stale ones outnumber the live ones.
	if len(c.queue) > 2*len(c.entries)+1024 {
		c.queue = c.queue[:0]
		for k, en := range c.entries {
			c.queue = append(c.queue, nextUse{next: en.next, key: k, stamp: en.stamp})
		}
		c.queue.init()
	}
}

// latest returns the cached entry whose next use is the latest. The cache
// must not be empty.
func (c *kbCache) latest() ([2]int, *kbEntry, int64) {
	for {
		top := c.queue[0]
		if en, ok := c.entries[top.key]; ok && en.stamp == top.stamp {
			return top.key, en, top.next
		}
		c.queue.pop()
	}
}

func (c *kbCache) drop(k [2]int, en *kbEntry) {
	delete(c.entries, k)
	c.bytes -= en.e.size
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
