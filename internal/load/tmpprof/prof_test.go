package tmpprof

import (
	"context"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/load"
	"qvt/internal/store"
)

func TestProf(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "/tmp/pb1m/priority/k3.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &load.Loader{Policy: assess.DefaultPolicy()}
	if _, err := l.Files(ctx, st, []string{"/tmp/pb1m/priority/epss_scores-2026-11-01.csv.gz"}); err != nil {
		t.Fatal(err)
	}
}
