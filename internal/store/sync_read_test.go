package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// What a sync reads back to resume and to know what to fetch (its
// watermarks, its unfinished run and batches, the KB's newest change, the
// QIDs the KB lacks) and what the store says of itself (its origin, its
// subscription, whether it holds hosts) read the same on both engines.
func TestSyncAndMetaReads(t *testing.T) { storetest.Run(t, testSyncAndMetaReads) }

func testSyncAndMetaReads(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	if ok, err := st.HasHosts(ctx); err != nil || ok {
		t.Fatalf("a new store has hosts: %v, %v", ok, err)
	}
	if o, err := st.Origin(ctx); err != nil || o.At.IsZero() || o.Version == "" {
		t.Errorf("origin %+v, %v", o, err)
	}
	if sub, err := st.Subscription(ctx); err != nil || !sub.IsZero() {
		t.Errorf("a new store's subscription: %+v, %v", sub, err)
	}
	sub := Subscription{APIURL: "https://qualysapi.qualys.eu", Username: "demo"}
	if err := st.SetSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Subscription(ctx); err != nil || got != sub {
		t.Errorf("subscription %+v, %v", got, err)
	}
	if v, err := st.MaxKBModified(ctx); err != nil || v != "" {
		t.Errorf("an empty KB's newest change: %q, %v", v, err)
	}
	if r, err := st.OpenRun(ctx, "full"); err != nil || r != nil {
		t.Errorf("open run of a new store: %+v, %v", r, err)
	}
	now := time.Unix(1_700_000_000, 0)
	var run int64
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.SetState(map[string]string{"detections_since": "2023-11-14T00:00:00Z"}); err != nil {
			return err
		}
		var err error
		if run, err = tx.StartRun("full", `{"since":""}`, now); err != nil {
			return err
		}
		if err := tx.AddBatches(run, "detections", []string{"1-100", "101-200", "201-300"}); err != nil {
			return err
		}
		if err := tx.BatchDone(run, "detections", 1, 40); err != nil {
			return err
		}
		return tx.PutVulns([]*qualys.Vuln{
			{QID: 1, Title: "one", LastModified: "2023-10-01T00:00:00Z"},
			{QID: 3, Title: "three", LastModified: "2023-11-01T00:00:00Z"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.State(ctx, "detections_since"); err != nil || v != "2023-11-14T00:00:00Z" {
		t.Errorf("state %q, %v", v, err)
	}
	if v, err := st.State(ctx, "kb_since"); err != nil || v != "" {
		t.Errorf("unset state %q, %v", v, err)
	}
	r, err := st.OpenRun(ctx, "full")
	if err != nil || r == nil || r.ID != run || r.Status != "running" || !r.Started.Equal(now) || r.Params != `{"since":""}` {
		t.Fatalf("open run %+v, %v", r, err)
	}
	bs, err := st.Batches(ctx, run, "detections")
	want := []Batch{{"detections", 0, "1-100", false}, {"detections", 1, "101-200", true}, {"detections", 2, "201-300", false}}
	if err != nil || !slices.Equal(bs, want) {
		t.Errorf("batches %+v, %v; want %+v", bs, err, want)
	}
	if v, err := st.MaxKBModified(ctx); err != nil || v != "2023-11-01T00:00:00Z" {
		t.Errorf("KB's newest change %q, %v", v, err)
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.FinishRun(run, nil, now.Add(time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	if r, err := st.OpenRun(ctx, "full"); err != nil || r != nil {
		t.Errorf("open run after it finished: %+v, %v", r, err)
	}

	// Detections of QIDs 1 to 4, of which the KB has 1 and 3.
	h := &qualys.Host{ID: 1, IP: "10.0.0.1"}
	for q := 1; q <= 4; q++ {
		h.Detections = append(h.Detections, qualys.Detection{QID: q, Type: "Confirmed", Status: "New",
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z"})
	}
	at := filepath.Join(t.TempDir(), "filled.db")
	if IsPostgres(loc) {
		at = storetest.Postgres(t)
	}
	filled := fillAt(t, at, func(tx *Tx) error {
		if err := tx.PutVulns([]*qualys.Vuln{{QID: 1}, {QID: 3}}); err != nil {
			return err
		}
		return tx.PutHosts([]HostRecord{{Host: h}}, 1_700_000_000)
	})
	if ok, err := filled.HasHosts(ctx); err != nil || !ok {
		t.Errorf("a store with a host has none: %v, %v", ok, err)
	}
	if qs, err := filled.MissingQIDs(ctx); err != nil || !slices.Equal(qs, []int{2, 4}) {
		t.Errorf("missing QIDs %v, %v; want [2 4]", qs, err)
	}
}
