package store

import (
	"context"
	"testing"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// lcDet is an open detection of QID q on port 443, last found at found.
func lcDet(q int, found string) qualys.Detection {
	return qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Port: 443, Protocol: "tcp", Status: "Active",
		FirstFound: "2023-11-01T00:00:00Z", LastFound: found, TimesFound: 3}
}

// lcPut writes one host's detection list as data of time seen, the host
// last scanned at scanned.
func lcPut(t *testing.T, st *Store, scanned string, seen int64, ds ...qualys.Detection) {
	t.Helper()
	h := &qualys.Host{ID: 7, IP: "10.0.0.7", LastVMScanned: scanned, Detections: ds}
	err := st.Write(context.Background(), func(tx *Tx) error {
		return tx.PutHosts([]HostRecord{{Host: h}}, seen)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lcRow is what the store holds of the host's detection of QID q.
type lcRow struct {
	Status, Closed, Results string
	LastFound, Rev          int64
}

func lcGet(t *testing.T, st *Store, q int) lcRow {
	t.Helper()
	var r lcRow
	err := st.DB().QueryRow("SELECT status, closed, results, last_found, rev FROM detections WHERE host_id = 7 AND qid = ?", q).
		Scan(&r.Status, &r.Closed, &r.Results, &r.LastFound, &r.Rev)
	if err != nil {
		t.Fatalf("qid %d: %v", q, err)
	}
	return r
}

func lcHistory(t *testing.T, st *Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM history").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A host's list closes what it lacks as gone only when the host was
// scanned again since the store last saw it. A list of the same scan
// (Qualys reprocessed the host, or a partial list) says nothing about
// the detections it lacks.
func TestGoneNeedsALaterScan(t *testing.T) { storetest.Run(t, testGoneNeedsALaterScan) }

func testGoneNeedsALaterScan(t *testing.T, loc string) {
	const (
		scan1 = "2023-11-14T22:00:00Z"
		scan2 = "2023-11-15T22:00:00Z"
		day1  = int64(1_700_000_000)
	)
	st := openStore(t, loc)
	lcPut(t, st, scan1, day1, lcDet(1, scan1), lcDet(2, scan1))

	// A day later, a list of the same scan that lacks QID 2.
	lcPut(t, st, scan1, day1+86400, lcDet(1, scan1))
	if r := lcGet(t, st, 2); r.Closed != "" {
		t.Fatalf("a list of the same scan time closed QID 2 as %q; it must stay open", r.Closed)
	}
	if r := lcGet(t, st, 1); r.Closed != "" {
		t.Fatalf("QID 1, reported, is closed as %q", r.Closed)
	}

	// A later scan that lacks it closes it as gone, and only it.
	lcPut(t, st, scan2, day1+2*86400, lcDet(1, scan2))
	if r := lcGet(t, st, 2); r.Closed != ClosedGone {
		t.Errorf("after a later scan without it, QID 2 is closed %q, want %q", r.Closed, ClosedGone)
	}
	if r := lcGet(t, st, 1); r.Closed != "" {
		t.Errorf("QID 1, found by the later scan, is closed as %q", r.Closed)
	}
}

// Each reason Qualys gives to close a detection is recorded as itself.
func TestClosedReasons(t *testing.T) { storetest.Run(t, testClosedReasons) }

func testClosedReasons(t *testing.T, loc string) {
	const scan = "2023-11-14T22:00:00Z"
	fixed := lcDet(1, scan)
	fixed.Status, fixed.LastFixed = "Fixed", scan
	ignored := lcDet(2, scan)
	ignored.Ignored = true
	disabled := lcDet(3, scan)
	disabled.Disabled = true
	both := lcDet(4, scan) // disabled QIDs are closed as disabled even when also ignored
	both.Ignored, both.Disabled = true, true
	open := lcDet(5, scan)

	st := openStore(t, loc)
	lcPut(t, st, scan, 1_700_000_000, fixed, ignored, disabled, both, open)
	want := map[int]string{1: ClosedFixed, 2: ClosedIgnored, 3: ClosedDisabled, 4: ClosedDisabled, 5: ""}
	for q, reason := range want {
		if r := lcGet(t, st, q); r.Closed != reason {
			t.Errorf("qid %d: closed %q, want %q", q, r.Closed, reason)
		}
	}

	// A detection that becomes disabled later records that reason too.
	open.Disabled, open.LastFound = true, "2023-11-15T22:00:00Z"
	lcPut(t, st, "2023-11-15T22:00:00Z", 1_700_086_400, fixed, ignored, disabled, both, open)
	if r := lcGet(t, st, 5); r.Closed != ClosedDisabled {
		t.Errorf("qid 5 disabled later: closed %q, want %q", r.Closed, ClosedDisabled)
	}
	var ev string
	st.DB().QueryRow("SELECT old || '>' || new FROM history WHERE qid = 5 AND event = 'closed'").Scan(&ev)
	if ev != ">disabled" {
		t.Errorf("qid 5's history records closed %q, want \">disabled\"", ev)
	}
}

// Newer data wins: a record found less recently than the one stored
// never overrides it, whichever order they arrive in, and the same record
// written again changes nothing.
func TestNewerDataWins(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			testNewerDataWins(t, func(t *testing.T) *Store { return openStore(t, b.New(t)) })
		})
	}
}

func testNewerDataWins(t *testing.T, newStore func(*testing.T) *Store) {
	const (
		scan = "2023-11-15T22:00:00Z"
		seen = int64(1_700_086_400)
	)
	newer := lcDet(1, "2023-11-15T22:00:00Z")
	newer.Results = "found on the 15th"
	older := lcDet(1, "2023-11-10T22:00:00Z")
	older.Results, older.Status, older.LastFixed = "found on the 10th", "Fixed", "2023-11-12T22:00:00Z"

	t.Run("older at the same time", func(t *testing.T) {
		st := newStore(t)
		lcPut(t, st, scan, seen, newer)
		before, hist := lcGet(t, st, 1), lcHistory(t, st)
		lcPut(t, st, scan, seen, older)
		if got := lcGet(t, st, 1); got != before {
			t.Errorf("an older record overrode the newer one: %+v, was %+v", got, before)
		}
		if n := lcHistory(t, st); n != hist {
			t.Errorf("an older record added %d history rows", n-hist)
		}
	})
	t.Run("older data of an earlier time", func(t *testing.T) {
		st := newStore(t)
		lcPut(t, st, scan, seen, newer)
		before := lcGet(t, st, 1)
		lcPut(t, st, "2023-11-10T22:00:00Z", seen-5*86400, older)
		if got := lcGet(t, st, 1); got != before {
			t.Errorf("data of an earlier time overrode the newer one: %+v, was %+v", got, before)
		}
		var scanned string
		st.DB().QueryRow("SELECT last_vm_scanned FROM hosts WHERE id = 7").Scan(&scanned)
		if scanned != scan {
			t.Errorf("the host's last scan is %q after older data, want %q", scanned, scan)
		}
	})
	// A host the store has never seen comes sorted (load.Loader.Rate);
	// one it has seen is upserted in whatever order.
	t.Run("tcp and udp of one port, in either order", func(t *testing.T) {
		for _, order := range [][]qualys.Detection{{newer, older}, {older, newer}} {
			st := newStore(t)
			lcPut(t, st, "2023-11-01T00:00:00Z", seen-14*86400, lcDet(1, "2023-11-01T00:00:00Z"))
			a, b := order[0], order[1]
			b.Protocol = "udp"
			lcPut(t, st, scan, seen, a, b)
			if got := lcGet(t, st, 1); got.Results != newer.Results {
				t.Errorf("first %q: the finding holds %q, want the most recently found", a.Results, got.Results)
			}
		}
	})
	t.Run("a newer record after an older one", func(t *testing.T) {
		st := newStore(t)
		lcPut(t, st, scan, seen, older)
		lcPut(t, st, scan, seen, newer)
		if got := lcGet(t, st, 1); got.Results != newer.Results || got.Status != "Active" || got.Closed != "" {
			t.Errorf("the newer record did not replace the older: %+v", got)
		}
	})
	t.Run("the same record again", func(t *testing.T) {
		st := newStore(t)
		lcPut(t, st, scan, seen, newer)
		before, hist := lcGet(t, st, 1), lcHistory(t, st)
		var rev1 string
		if err := st.DB().QueryRow("SELECT value FROM meta WHERE name = 'rev'").Scan(&rev1); err != nil {
			t.Fatalf("the store's revision: %v", err)
		}
		lcPut(t, st, scan, seen, newer)
		if got := lcGet(t, st, 1); got != before {
			t.Errorf("the same record again changed the finding: %+v, was %+v", got, before)
		}
		if n := lcHistory(t, st); n != hist {
			t.Errorf("the same record again added %d history rows", n-hist)
		}
		var rev2 string
		st.DB().QueryRow("SELECT value FROM meta WHERE name = 'rev'").Scan(&rev2)
		if rev2 != rev1 {
			t.Errorf("the same record again moved the store's revision from %q to %q", rev1, rev2)
		}
	})
}

// meta.order moves with every transaction that may move a finding's
// urgency without a change the finding shows: a host's newer detection
// list, a host given another environment policy. The same data again,
// data older than the store's, and a reassignment that moves no host
// leave it.
func TestOrderMovesWithUrgencies(t *testing.T) { storetest.Run(t, testOrderMovesWithUrgencies) }

func testOrderMovesWithUrgencies(t *testing.T, loc string) {
	const scan = "2023-11-14T22:00:00Z"
	const day = int64(1_700_000_000)
	ctx := context.Background()
	st := openStore(t, loc)
	order := func() string {
		t.Helper()
		v, err := st.Meta(ctx, "order")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	moved := func(what string, want bool, fn func()) {
		t.Helper()
		before := order()
		fn()
		if got := order() != before; got != want {
			t.Errorf("%s: meta.order moved %v (%q → %q), want %v", what, got, before, order(), want)
		}
	}
	moved("a first list", true, func() { lcPut(t, st, scan, day, lcDet(1, scan)) })
	moved("a newer list", true, func() { lcPut(t, st, scan, day+86400, lcDet(1, scan)) })
	moved("the same list again", false, func() { lcPut(t, st, scan, day+86400, lcDet(1, scan)) })
	moved("an older list", false, func() { lcPut(t, st, scan, day, lcDet(1, scan)) })
	moved("the same list, the host given a policy", true, func() {
		h := &qualys.Host{ID: 7, IP: "10.0.0.7", LastVMScanned: scan, Detections: []qualys.Detection{lcDet(1, scan)}}
		err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts([]HostRecord{{Host: h, Policy: 2}}, day+86400) })
		if err != nil {
			t.Fatal(err)
		}
	})
	reassign := func(policy int) func() {
		return func() {
			err := st.Write(ctx, func(tx *Tx) error {
				_, err := tx.ReassignPolicies(func(int64, []string, []string) int { return policy })
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	moved("the host given a policy", true, reassign(1))
	moved("the same policy again", false, reassign(1))
}
