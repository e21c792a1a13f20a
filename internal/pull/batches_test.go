package pull

import (
	"context"
	"testing"
	"time"
)

// The writer drains the oldest batch first, so that batches end one after
// the other, but takes a newer one's records rather than wait on a batch
// that has none ready.
func TestOldestFirst(t *testing.T) {
	ctx := context.Background()
	started := make(chan chan piece[int], 3)
	a, b, c := make(chan piece[int], 4), make(chan piece[int], 4), make(chan piece[int], 4)
	started <- a
	started <- b
	next := oldestFirst(ctx, started)
	get := func() piece[int] {
		t.Helper()
		p, ok, err := next()
		if err != nil || !ok {
			t.Fatalf("next: ok %v, %v", ok, err)
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
	if _, ok, err := next(); ok || err != nil {
		t.Fatalf("after every batch ended: ok %v, %v", ok, err)
	}
}

func TestOldestFirstCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan chan piece[int], 1)
	started <- make(chan piece[int])
	next := oldestFirst(ctx, started)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, ok, err := next(); ok || err == nil {
		t.Fatalf("cancelled while waiting: ok %v, err %v", ok, err)
	}
}
