package mysql

import (
	"context"
	"testing"
	"time"

	"qvt/internal/store"
)

func TestScratchRead(t *testing.T) {
	st := benchStore(t, 2500, 40)
	for range 2 {
		start := time.Now()
		n := 0
		st.Changed(context.Background(), 0, func(p *store.Published) error { n++; return nil })
		t.Logf("read %d: %v", n, time.Since(start))
		start = time.Now()
		b := &batch{}
		kb := map[int]bool{}
		st.Changed(context.Background(), 0, func(p *store.Published) error {
			if !kb[p.QID] {
				kb[p.QID] = true
				b.addKB(p)
			}
			b.add(p)
			if b.nf >= 2000 {
				b.reset()
			}
			return nil
		})
		t.Logf("read+add: %v", time.Since(start))
	}
}

func TestScratchBuild(t *testing.T) {
	st := benchStore(t, 27000, 40)
	var n int
	st.DB().QueryRow("SELECT COUNT(*) FROM detections WHERE type <> 'Info'").Scan(&n)
	t.Logf("findings: %d", n)
}
