package qualys

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// limits is what a response's headers say about the Qualys rate and
// concurrency limits (section 4.3 of qualys-api.md). A field is -1 when
// its header is absent or unreadable.
type limits struct {
	RateLimit     int // X-RateLimit-Limit: calls per window
	RateWindow    int // X-RateLimit-Window-Sec
	RateRemaining int // X-RateLimit-Remaining
	ToWait        int // X-RateLimit-ToWait-Sec
	Concurrency   int // X-Concurrency-Limit-Limit (or X-ConcurrencyLimit-Limit)
	Running       int // X-Concurrency-Limit-Running, this call included
}

func headerInt(h http.Header, names ...string) int {
	for _, name := range names {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		// A header repeated by a proxy comes back as "2, 2".
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n
		}
	}
	return -1
}

func parseLimits(h http.Header) limits {
	return limits{
		RateLimit:     headerInt(h, "X-RateLimit-Limit"),
		RateWindow:    headerInt(h, "X-RateLimit-Window-Sec"),
		RateRemaining: headerInt(h, "X-RateLimit-Remaining"),
		ToWait:        headerInt(h, "X-RateLimit-ToWait-Sec"),
		Concurrency:   headerInt(h, "X-Concurrency-Limit-Limit", "X-ConcurrencyLimit-Limit"),
		Running:       headerInt(h, "X-Concurrency-Limit-Running", "X-ConcurrencyLimit-Running"),
	}
}

// governor keeps qvt within the Qualys limits. Qualys counts calls per API
// endpoint, so it holds one pool of call slots, and one rate hold, per
// endpoint path.
//
// Slots: a call holds one from before its request is sent until its body
// has been read and closed (Qualys counts a call as running until its
// stream ends). Until the first response to the endpoint there is one
// slot; then the configured concurrency if set (lowered to
// X-Concurrency-Limit-Limit if that is less), else
// X-Concurrency-Limit-Limit − 1 (one left for the subscription's other
// users, as QualysETL does), at least 1. A 1960 refusal shrinks the pool below what was running; each
// later response grows it back by one, up to that target.
//
// Rate: when a response says X-RateLimit-Remaining 0 with
// X-RateLimit-ToWait-Sec > 0, new calls to the endpoint wait that long
// (plus a second: Qualys rounds to whole seconds). A 1965 refusal sets the
// same hold. A call sent after the hold and accepted (Remaining > 0) ends
// it. A hold longer than maxWait (plus the margin) fails the calls that
// would wait it, with the reason.
type governor struct {
	configured int
	maxWait    time.Duration
	log        *slog.Logger
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error

	mu    sync.Mutex
	pools map[string]*pool
}

type pool struct {
	limit     int // slots now
	target    int // slots wanted: configured, else header limit − 1; 0 until a response is seen
	inUse     int
	holdUntil time.Time
	holdWhy   string        // what set the hold, for the error when it is too long
	holdGen   int           // counts the holds set
	holdLog   int           // the holdGen last logged
	changed   chan struct{} // closed and replaced when a slot frees or a hold is set
}

// ticket is a call's slot.
type ticket struct {
	g       *governor
	p       *pool
	holdGen int // the pool's holdGen when the call got its slot
	once    sync.Once
}

// release frees the slot; it may be called more than once.
func (t *ticket) release() {
	t.once.Do(func() {
		t.g.mu.Lock()
		t.p.inUse--
		t.p.signal()
		t.g.mu.Unlock()
	})
}

// holdMargin is added to every wait Qualys asks for.
const holdMargin = time.Second

func newGovernor(configured int, maxWait time.Duration, sleep func(context.Context, time.Duration) error) *governor {
	return &governor{configured: configured, maxWait: maxWait, log: slog.New(slog.DiscardHandler), now: time.Now, sleep: sleep, pools: map[string]*pool{}}
}

func (g *governor) pool(endpoint string) *pool {
	p := g.pools[endpoint]
	if p == nil {
		p = &pool{limit: 1, changed: make(chan struct{})}
		g.pools[endpoint] = p
	}
	return p
}

func (p *pool) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire waits out any rate hold on the endpoint, then for a free slot.
//
// A hold is slept once by each waiter, then trusted to have passed: the
// wait is measured on the wall clock, and an injected Sleep that returns at
// once must not make the loop spin.
func (g *governor) acquire(ctx context.Context, endpoint string) (*ticket, error) {
	var slept time.Time
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g.mu.Lock()
		p := g.pool(endpoint)
		if p.holdUntil.After(slept) {
			if d := p.holdUntil.Sub(g.now()); d > 0 {
				if d > g.maxWait+holdMargin {
					why := p.holdWhy
					g.mu.Unlock()
					return nil, &Error{Endpoint: endpoint, Msg: fmt.Sprintf(
						"Qualys asks to wait %v before the next call (%s), more than the %v allowed (--max-wait)",
						(d - holdMargin).Round(time.Second), why, g.maxWait)}
				}
				slept = p.holdUntil
				if p.holdLog != p.holdGen { // once per hold, not per waiting call
					p.holdLog = p.holdGen
					g.log.Info("qualys: waiting for the rate limit", "endpoint", endpoint, "wait", d.Round(time.Second), "reason", p.holdWhy)
				}
				g.mu.Unlock()
				if err := g.sleep(ctx, d); err != nil {
					return nil, err
				}
				continue
			}
		}
		if p.inUse < p.limit {
			p.inUse++
			t := &ticket{g: g, p: p, holdGen: p.holdGen}
			g.mu.Unlock()
			return t, nil
		}
		ch := p.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// observe applies the limits the response to a call reported.
func (g *governor) observe(t *ticket, l limits) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := t.p
	target := p.target
	switch {
	case l.Concurrency > 0 && g.configured > 0:
		// The configured number, but never above what Qualys allows:
		// every call over it would be refused with 1960.
		target = min(g.configured, l.Concurrency)
	case l.Concurrency > 0:
		target = max(1, l.Concurrency-1)
	case g.configured > 0 && target == 0:
		target = g.configured
	}
	if target > 0 {
		switch {
		case p.target == 0: // the first response: take the number at once
			p.limit = target
		case p.limit > target:
			p.limit = target
		case p.limit < target:
			p.limit++ // recovering from a 1960 shrink
		}
		p.target = target
		p.signal()
	}
	switch {
	case l.RateRemaining == 0 && l.ToWait > 0:
		g.holdLocked(p, time.Duration(l.ToWait)*time.Second+holdMargin,
			fmt.Sprintf("X-RateLimit-Remaining 0, X-RateLimit-ToWait-Sec %d", l.ToWait))
	case l.RateRemaining > 0 && t.holdGen == p.holdGen && !p.holdUntil.IsZero():
		// A call sent after the last hold began (so after waiting it
		// out) was accepted: the hold is over.
		p.holdUntil = time.Time{}
	}
}

// refused handles a 1960 (concurrency limit) refusal of a call: the pool
// shrinks to the calls still running, the refused one excluded.
func (g *governor) refused(t *ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.p.limit = max(1, min(t.p.limit, t.p.inUse-1))
}

// hold makes new calls to the endpoint wait d from now; why says who
// asked.
func (g *governor) hold(endpoint string, d time.Duration, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holdLocked(g.pool(endpoint), d, why)
}

func (g *governor) holdLocked(p *pool, d time.Duration, why string) {
	if until := g.now().Add(d); until.After(p.holdUntil) {
		p.holdUntil = until
		p.holdWhy = why
		p.holdGen++
		p.signal()
	}
}

// slots returns the endpoint's current number of slots (for tests and logs).
func (g *governor) slots(endpoint string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pool(endpoint).limit
}
