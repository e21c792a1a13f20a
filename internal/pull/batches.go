package pull

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"qvt/internal/guard"
	"qvt/internal/store"
)

// batchJob fetches the batches of one phase of a run in parallel and
// writes their records through one writer, marking each batch done in the
// transaction that follows its last record, so that an interrupted run
// resumes with the batches it had not finished.
//
// SQLite has one writer. Each fetch streams its records into a channel of
// its own, and the writer takes them from the oldest batch that has some
// ready. It drains the batches one after the other, so that they end one
// after the other: the worker of the batch that ended starts its next
// call while the writer still has the others to drain, and the API's
// latency stays hidden. (Taken in arrival order, the batches in flight
// would all end together, and the writer would sit idle through every
// next call's latency.) It never waits on one fetch while others have
// records: a fetch may be waiting for an API slot that another holds.
//
// A transaction commits after txRecords records, or commitDelay after the
// first batch that ended in it, whichever comes first: a big import keeps
// its large transactions, and a batch that has all arrived is on disk
// within commitDelay plus a commit, whatever its size. When the run is
// cancelled or a batch fails, the writer commits what has ended, lets the
// fetches in flight stop (at most drainGrace) and commits the batches
// that ended meanwhile. Records of a batch cut short may be committed
// without its done mark; the resumed run fetches it again, and upserts
// make that harmless.
type batchJob[T any] struct {
	store    *store.Store
	runID    int64
	phase    string
	workers  int
	fetch    func(ctx context.Context, spec string, emit func(T) error) error
	write    func(tx *store.Tx, items []T) error
	weight   func(T) int       // records an item counts for
	progress func(records int) // called after each batch is marked done
	// halt, when it closes, starts no further batch: those in flight
	// end, are written and committed, and run returns ErrStopped.
	halt <-chan struct{}
}

// txRecords is how many records a transaction takes before it commits:
// about one batch of a thousand hosts. Each commit may checkpoint the
// WAL, so fewer, larger transactions write less.
const txRecords = 50000

// commitDelay is how long a batch that has ended waits for others to join
// its transaction. With the commit's own time it stays under 2 seconds.
var commitDelay = time.Second

// drainGrace bounds the wait for the fetches in flight to stop once the
// run is cancelled or failed.
var drainGrace = 3 * time.Second

// piece is what a fetch sends the writer: records of a batch, or the end
// of a batch (with its error, if the fetch failed).
type piece[T any] struct {
	seq   int
	items []T
	end   bool
	err   error
	// unstarted ends a batch handed to no fetch because the run was
	// halted: neither done nor failed.
	unstarted bool
}

// run processes the given batches (those not done yet).
func (j *batchJob[T]) run(ctx context.Context, batches []store.Batch) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type task struct {
		b   store.Batch
		out chan piece[T]
	}
	workers := max(1, j.workers)
	todo := make(chan task)
	started := make(chan chan piece[T], workers) // each batch's channel, in the order handed out
	// quit closes when the writer has gone: sends stop waiting then, not
	// when ctx ends, so that what a fetch received before a cancellation
	// still reaches the writer.
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range todo {
				err := guard.Call(func() error { return j.stream(ctx, t.b, t.out, quit) })
				select {
				case t.out <- piece[T]{seq: t.b.Seq, end: true, err: err}:
				case <-quit:
					return
				}
			}
		}()
	}
	var halted atomic.Bool
	go func() {
		defer close(started)
		defer close(todo)
		for _, b := range batches {
			if b.Done {
				continue
			}
			select {
			case <-j.halt:
				halted.Store(true)
				return
			default:
			}
			t := task{b: b, out: make(chan piece[T], 2)}
			select {
			case started <- t.out:
			case <-ctx.Done():
				return
			case <-j.halt:
				halted.Store(true)
				return
			}
			select {
			case todo <- t:
			case <-ctx.Done():
				// The writer waits for this batch's end: it never started.
				t.out <- piece[T]{seq: b.Seq, end: true, err: ctx.Err()}
				return
			case <-j.halt:
				// Neither done nor failed: the resumed run fetches it.
				halted.Store(true)
				t.out <- piece[T]{seq: b.Seq, end: true, unstarted: true}
				return
			}
		}
	}()
	err := j.writeAll(ctx, cancel, oldestFirst(started))
	if err == nil && halted.Load() {
		err = ErrStopped
	}
	close(quit)
	cancel()
	// The fetches stop with ctx; one that does not is left behind rather
	// than hold the run (it can no longer write anything).
	stoppedAll := make(chan struct{})
	go func() { wg.Wait(); close(stoppedAll) }()
	select {
	case <-stoppedAll:
	case <-time.After(drainGrace):
	}
	return err
}

// event is what the writer's next call brings.
type event int

const (
	gotPiece  event = iota // a piece of a batch
	allEnded               // every batch has ended
	stopped                // the stop channel closed
	due                    // a commit is due
	graceOver              // the wait for the fetches in flight is over
)

// oldestFirst returns a function that gives the next piece of the oldest
// batch that has one ready, waiting for any when none has, or for one of
// the channels given (nil ones never fire).
func oldestFirst[T any](started <-chan chan piece[T]) func(stop <-chan struct{}, commit, grace <-chan time.Time) (piece[T], event) {
	var active []chan piece[T]
	take := func(i int, p piece[T]) (piece[T], event) {
		if p.end {
			active = append(active[:i], active[i+1:]...)
		}
		return p, gotPiece
	}
	return func(stop <-chan struct{}, commit, grace <-chan time.Time) (piece[T], event) {
		for {
			// The batches started since, without waiting.
			for started != nil {
				select {
				case c, ok := <-started:
					if !ok {
						started = nil
						continue
					}
					active = append(active, c)
					continue
				default:
				}
				break
			}
			for i, c := range active {
				select {
				case p := <-c:
					return take(i, p)
				default:
				}
			}
			if started == nil && len(active) == 0 {
				return piece[T]{}, allEnded
			}
			// Nothing ready: wait for any batch, a new one, or a signal.
			cases := make([]reflect.SelectCase, 0, len(active)+4)
			for _, c := range active {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
			}
			n := len(active)
			signals := []event{stopped, due, graceOver}
			for _, c := range []reflect.Value{reflect.ValueOf(stop), reflect.ValueOf(commit), reflect.ValueOf(grace)} {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: c}) // a nil channel never fires
			}
			if started != nil {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(started)})
			}
			i, v, ok := reflect.Select(cases)
			switch {
			case i < n:
				return take(i, v.Interface().(piece[T]))
			case i < n+len(signals):
				return piece[T]{}, signals[i-n]
			case !ok:
				started = nil
			default:
				active = append(active, v.Interface().(chan piece[T]))
			}
		}
	}
}

// stream fetches one batch, sending its records in slices of about 256.
func (j *batchJob[T]) stream(ctx context.Context, b store.Batch, out chan<- piece[T], quit <-chan struct{}) error {
	var buf []T
	w := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		select {
		case out <- piece[T]{seq: b.Seq, items: buf}:
		case <-quit:
			return context.Canceled
		}
		buf, w = nil, 0
		return nil
	}
	err := j.fetch(ctx, b.Spec, func(x T) error {
		buf = append(buf, x)
		if w += j.weight(x); w >= 256 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("%s batch %d (%s): %w", j.phase, b.Seq, abbreviate(b.Spec, 40), err)
	}
	return nil
}

// writeAll writes what the fetches send until they have all ended, and
// returns the first failure: a batch's error, or the cancellation.
func (j *batchJob[T]) writeAll(ctx context.Context, cancel func(), next func(stop <-chan struct{}, commit, grace <-chan time.Time) (piece[T], event)) error {
	counts := map[int]int{} // records per batch so far
	var done []int          // batches ended in the open transaction, reported after it commits
	var failed error
	stop := ctx.Done()
	var grace <-chan time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		records := 0
		last := false
		var firstEnd time.Time
		// The transaction is not the run's context's: a cancelled run
		// still commits the batches that ended.
		err := j.store.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			for records < txRecords {
				var commit <-chan time.Time
				if len(done) > 0 {
					wait := time.Until(firstEnd.Add(commitDelay))
					if wait <= 0 {
						return nil
					}
					timer.Reset(wait)
					commit = timer.C
				}
				p, ev := next(stop, commit, grace)
				timer.Stop()
				switch ev {
				case allEnded, graceOver:
					last = true
					return nil
				case due:
					return nil
				case stopped:
					if failed == nil {
						failed = ctx.Err()
					}
					stop, grace = nil, time.After(drainGrace)
					return nil
				}
				if p.end {
					if p.unstarted {
						continue
					}
					if p.err != nil {
						if failed == nil {
							// What the failed batch sent stays: it is not
							// marked done, so a resumed run fetches it
							// again. The others in flight stop.
							failed = p.err
							cancel()
						}
						continue
					}
					if err := tx.BatchDone(j.runID, j.phase, p.seq, counts[p.seq]); err != nil {
						return err
					}
					if len(done) == 0 {
						firstEnd = time.Now()
					}
					done = append(done, p.seq)
					continue
				}
				for _, x := range p.items {
					n := j.weight(x)
					counts[p.seq] += n
					records += n
				}
				if err := j.write(tx, p.items); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", j.phase, err)
		}
		if j.progress != nil {
			for _, seq := range done {
				j.progress(counts[seq])
				delete(counts, seq)
			}
		}
		done = done[:0]
		if last {
			return failed
		}
	}
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
