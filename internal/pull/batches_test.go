package pull

import (
	"context"
	"errors"
	"testing"
	"time"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The writer drains the oldest batch first, so that batches end one after
// the other, but takes a newer one's records rather than wait on a batch
// that has none ready.
func TestOldestFirst(t *testing.T) {
	started := make(chan chan piece[int], 3)
	a, b, c := make(chan piece[int], 4), make(chan piece[int], 4), make(chan piece[int], 4)
	started <- a
	started <- b
	next := oldestFirst(started)
	get := func() piece[int] {
		t.Helper()
		p, ev := next(nil, nil, nil)
		if ev != gotPiece {
			t.Fatalf("next: event %v, want a piece", ev)
		}
		return p
	}
	// Both have records ready: a's come first, through its end.
	b <- piece[int]{seq: 2, items: []int{20}}
	a <- piece[int]{seq: 1, items: []int{10}}
	a <- piece[int]{seq: 1, items: []int{11}}
	a <- piece[int]{seq: 1, end: true}
	for _, want := range []piece[int]{{seq: 1, items: []int{10}}, {seq: 1, items: []int{11}}, {seq: 1, end: true}, {seq: 2, items: []int{20}}} {
		if p := get(); p.seq != want.seq || p.end != want.end || (len(want.items) > 0 && p.items[0] != want.items[0]) {
			t.Fatalf("got batch %d %v end=%v, want batch %d %v end=%v", p.seq, p.items, p.end, want.seq, want.items, want.end)
		}
	}
	// b has nothing ready, c (started later) has: no waiting on b.
	started <- c
	c <- piece[int]{seq: 3, items: []int{30}}
	if p := get(); p.seq != 3 {
		t.Fatalf("got batch %d, want 3: the writer waited on a batch with nothing ready", p.seq)
	}
	// With nothing ready it waits for whichever sends first.
	go func() {
		time.Sleep(20 * time.Millisecond)
		b <- piece[int]{seq: 2, end: true}
	}()
	if p := get(); p.seq != 2 || !p.end {
		t.Fatalf("got batch %d end=%v, want the end of batch 2", p.seq, p.end)
	}
	close(started)
	c <- piece[int]{seq: 3, end: true}
	if p := get(); p.seq != 3 || !p.end {
		t.Fatalf("got batch %d end=%v, want the end of batch 3", p.seq, p.end)
	}
	if _, ev := next(nil, nil, nil); ev != allEnded {
		t.Fatalf("after every batch ended: event %v, want allEnded", ev)
	}
}

// With nothing ready, the writer wakes for a stop, a commit that is due
// and the end of the grace period, whichever comes first.
func TestOldestFirstSignals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan chan piece[int], 1)
	started <- make(chan piece[int])
	next := oldestFirst(started)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, ev := next(ctx.Done(), nil, nil); ev != stopped {
		t.Fatalf("cancelled while waiting: event %v, want stopped", ev)
	}
	if _, ev := next(nil, time.After(10*time.Millisecond), time.After(time.Hour)); ev != due {
		t.Fatalf("commit timer: event %v, want due", ev)
	}
	if _, ev := next(nil, nil, time.After(10*time.Millisecond)); ev != graceOver {
		t.Fatalf("grace timer: event %v, want graceOver", ev)
	}
}

// A cancelled job whose fetches ignore the cancellation still ends, after
// the grace period, having committed the batch that arrived.
func TestJobEndsDespiteStuckFetch(t *testing.T) { storetest.Run(t, testJobEndsDespiteStuckFetch) }

func testJobEndsDespiteStuckFetch(t *testing.T, loc string) {
	defer func(g time.Duration) { drainGrace = g }(drainGrace)
	drainGrace = 100 * time.Millisecond
	st, err := store.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stuck := make(chan struct{})
	defer close(stuck)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ended []int
	j := &batchJob[int]{
		store: st, runID: 1, phase: "test", workers: 3,
		fetch: func(ctx context.Context, spec string, emit func(int) error) error {
			if spec == "a" {
				return emit(1)
			}
			<-stuck // a server that never answers, and a fetch deaf to ctx
			return nil
		},
		write:    func(*store.Tx, []int) error { return nil },
		weight:   func(int) int { return 1 },
		progress: func(n int) { ended = append(ended, n); cancel() },
	}
	errc := make(chan error, 1)
	go func() {
		errc <- j.run(ctx, []store.Batch{{Seq: 0, Spec: "a"}, {Seq: 1, Spec: "b"}, {Seq: 2, Spec: "c"}})
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not end with its fetches stuck")
	}
	if len(ended) != 1 {
		t.Errorf("batches committed: %v, want the one that arrived", ended)
	}
}
