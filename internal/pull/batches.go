package pull

import (
	"context"
	"fmt"
	"sync"

	"qvt/internal/store"
)

// batchJob fetches the batches of one phase of a run in parallel and
// writes their records through one writer, marking each batch done in the
// transaction that follows its last record, so that an interrupted run
// resumes with the batches it had not finished.
//
// SQLite has one writer. Fetches stream their records into one shared
// channel and the writer takes them in arrival order, committing every few
// thousand records: it never waits on one fetch while another holds the
// API's only slot, which, with the records of a batch kept in one
// transaction, could deadlock. Records of a batch cut short may be
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
	todo := make(chan store.Batch)
	pieces := make(chan piece[T], 2*max(1, j.workers))
	var wg sync.WaitGroup
	for range max(1, j.workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				err := j.stream(ctx, b, pieces)
				select {
				case pieces <- piece[T]{seq: b.Seq, end: true, err: err}:
				case <-ctx.Done():
					return
				}
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
		close(pieces)
	}()
	err := j.writeAll(ctx, pieces)
	if err != nil {
		cancel()
		for range pieces { // let the fetches end
		}
	}
	return err
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
func (j *batchJob[T]) writeAll(ctx context.Context, pieces <-chan piece[T]) error {
	counts := map[int]int{} // records per batch so far
	var done []int          // batches ended in the open transaction, reported after it commits
	for {
		var fail error
		records := 0
		closed := false
		err := j.store.Write(ctx, func(tx *store.Tx) error {
			for records < txRecords {
				p, ok := <-pieces
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
