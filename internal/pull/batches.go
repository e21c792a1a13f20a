package pull

import (
	"context"
	"fmt"
	"reflect"
	"sync"

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
// ready, committing every few thousand records. It drains the batches one
// after the other, so that they end one after the other: the worker of
// the batch that ended starts its next call while the writer still has
// the others to drain, and the API's latency stays hidden. (Taken in
// arrival order, the batches in flight would all end together, and the
// writer would sit idle through every next call's latency.) It never
// waits on one fetch while others have records: a fetch may be waiting
// for an API slot that another holds. Records of a batch cut short may be
// committed without its done mark; the resumed run fetches it again, and
// upserts make that harmless.
type batchJob[T any] struct {
	store    *store.Store
	runID    int64
	phase    string
	workers  int
	fetch    func(ctx context.Context, spec string, emit func(T) error) error
	write    func(tx *store.Tx, items []T) error
	weight   func(T) int       // records an item counts for
	progress func(records int) // called after each batch is marked done
}

// txRecords is how many records a transaction takes before it commits:
// about one batch of a thousand hosts. Each commit may checkpoint the
// WAL, so fewer, larger transactions write less.
const txRecords = 50000

// piece is what a fetch sends the writer: records of a batch, or the end
// of a batch (with its error, if the fetch failed).
type piece[T any] struct {
	seq   int
	items []T
	end   bool
	err   error
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
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range todo {
				err := guard.Call(func() error { return j.stream(ctx, t.b, t.out) })
				select {
				case t.out <- piece[T]{seq: t.b.Seq, end: true, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(started)
		defer close(todo)
		for _, b := range batches {
			if b.Done {
				continue
			}
			t := task{b: b, out: make(chan piece[T], 2)}
			select {
			case started <- t.out:
			case <-ctx.Done():
				return
			}
			select {
			case todo <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := j.writeAll(ctx, oldestFirst(ctx, started))
	cancel()
	wg.Wait()
	return err
}

// oldestFirst returns a function that gives the next piece of the oldest
// batch that has one ready, waiting for any when none has; ok is false
// when every batch has ended.
func oldestFirst[T any](ctx context.Context, started <-chan chan piece[T]) func() (p piece[T], ok bool, err error) {
	var active []chan piece[T]
	take := func(i int, p piece[T]) (piece[T], bool, error) {
		if p.end {
			active = append(active[:i], active[i+1:]...)
		}
		return p, true, nil
	}
	return func() (piece[T], bool, error) {
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
				return piece[T]{}, false, nil
			}
			// Nothing ready: wait for any batch, a new one, or the end.
			cases := make([]reflect.SelectCase, 0, len(active)+2)
			for _, c := range active {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
			if started != nil {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(started)})
			}
			i, v, ok := reflect.Select(cases)
			switch {
			case i < len(active):
				return take(i, v.Interface().(piece[T]))
			case i == len(active):
				return piece[T]{}, false, ctx.Err()
			case !ok:
				started = nil
			default:
				active = append(active, v.Interface().(chan piece[T]))
			}
		}
	}
}

// stream fetches one batch, sending its records in slices of about 256.
func (j *batchJob[T]) stream(ctx context.Context, b store.Batch, out chan<- piece[T]) error {
	var buf []T
	w := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		select {
		case out <- piece[T]{seq: b.Seq, items: buf}:
		case <-ctx.Done():
			return ctx.Err()
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

// writeAll writes what the fetches send, in transactions of about
// txRecords records, until they are all done or one fails.
func (j *batchJob[T]) writeAll(ctx context.Context, next func() (piece[T], bool, error)) error {
	counts := map[int]int{} // records per batch so far
	var done []int          // batches ended in the open transaction, reported after it commits
	for {
		var fail error
		records := 0
		closed := false
		err := j.store.Write(ctx, func(tx *store.Tx) error {
			for records < txRecords {
				p, ok, err := next()
				if err != nil {
					return err
				}
				if !ok {
					closed = true
					return nil
				}
				if p.end {
					if p.err != nil {
						fail = p.err
						// What the failed batch sent stays: it is not
						// marked done, so a resumed run fetches it again.
						return nil
					}
					if err := tx.BatchDone(j.runID, j.phase, p.seq, counts[p.seq]); err != nil {
						return err
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
		if fail != nil {
			return fail
		}
		if closed {
			return nil
		}
	}
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
