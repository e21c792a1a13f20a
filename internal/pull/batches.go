package pull

import (
	"context"
	"fmt"
	"sync"

	"qvt/internal/store"
)

// batchJob fetches the batches of one phase of a run in parallel and
// writes each in its own transaction, marking it done in that same
// transaction, so that an interrupted run resumes with the batches it had
// not finished.
//
// SQLite has one writer, so transactions are written one after another by
// this goroutine, in the order the fetches start; each fetch streams its
// records through a small channel and waits while another batch is being
// written. The API's latency, which dominates, still overlaps.
type batchJob[T any] struct {
	store    *store.Store
	runID    int64
	phase    string
	workers  int
	fetch    func(ctx context.Context, spec string, emit func(T) error) error
	write    func(tx *store.Tx, items []T) error
	weight   func(T) int       // records an item counts for
	progress func(records int) // called after each batch commits
}

type batchStream[T any] struct {
	seq   int
	spec  string
	items chan []T
	err   error // set before items is closed
}

// run processes the given batches (those not done yet).
func (j *batchJob[T]) run(ctx context.Context, batches []store.Batch) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	todo := make(chan store.Batch)
	started := make(chan *batchStream[T], len(batches))
	var wg sync.WaitGroup
	for range max(1, j.workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				s := &batchStream[T]{seq: b.Seq, spec: b.Spec, items: make(chan []T, 4)}
				started <- s
				s.err = j.stream(ctx, s)
				close(s.items)
			}
		}()
	}
	go func() {
		defer close(todo)
		for _, b := range batches {
			if b.Done {
				continue
			}
			select {
			case todo <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(started)
	}()
	var first error
	for s := range started {
		if first != nil {
			for range s.items { // drain so the fetch can end
			}
			continue
		}
		if err := j.writeBatch(ctx, s); err != nil {
			first = err
			cancel()
		}
	}
	return first
}

// stream fetches one batch into its channel in slices of about 256
// records.
func (j *batchJob[T]) stream(ctx context.Context, s *batchStream[T]) error {
	var buf []T
	w := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		select {
		case s.items <- buf:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf, w = nil, 0
		return nil
	}
	err := j.fetch(ctx, s.spec, func(x T) error {
		buf = append(buf, x)
		if w += j.weight(x); w >= 256 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

// writeBatch writes one batch in one transaction: all of it, marked done,
// or nothing.
func (j *batchJob[T]) writeBatch(ctx context.Context, s *batchStream[T]) error {
	records := 0
	err := j.store.Write(ctx, func(tx *store.Tx) error {
		for items := range s.items {
			for _, x := range items {
				records += j.weight(x)
			}
			if err := j.write(tx, items); err != nil {
				return err
			}
		}
		if s.err != nil {
			return s.err
		}
		return tx.BatchDone(j.runID, j.phase, s.seq, records)
	})
	if err != nil {
		for range s.items { // let the fetch finish
		}
		return fmt.Errorf("%s batch %d (%s): %w", j.phase, s.seq, abbreviate(s.spec, 40), err)
	}
	if j.progress != nil {
		j.progress(records)
	}
	return nil
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
