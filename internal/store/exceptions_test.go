package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(9 * time.Hour)
}

// excepted reads each excepted finding's exception and last day by key.
func excepted(t *testing.T, st *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := st.Findings(context.Background(), Filter{}, func(r *Row) error {
		if r.Excepted {
			out[r.Key] = r.Exception + " " + r.ExceptedUntil
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func putHosts(t *testing.T, st *Store, seen int64, hosts ...*qualys.Host) {
	t.Helper()
	err := st.Write(context.Background(), func(tx *Tx) error {
		var recs []HostRecord
		for _, h := range hosts {
			d := make([]Derived, len(h.Detections))
			for i := range d {
				d[i] = Derived{VulnScore: "High", BreachDate: "2026-12-01", Priority: "P2", DueDate: "2026-12-01"}
			}
			recs = append(recs, HostRecord{Host: h, Derived: d})
		}
		return tx.PutHosts(recs, seen)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func exceptionEvents(t *testing.T, st *Store, key string) []Change {
	t.Helper()
	lives, err := st.History(context.Background(), key)
	if err != nil || len(lives) != 1 {
		t.Fatalf("history of %s: %v %v", key, lives, err)
	}
	var out []Change
	for _, c := range lives[0].Changes {
		if c.Event == "exception" {
			out = append(out, c)
		}
	}
	return out
}

// An exception covers the findings of its scope while active: a fixed
// scope never grows, a future-hosts one does; an expired one stops
// hiding its findings on the day after its last, before any write
// records the expiry; expiry and revocation bring the findings back with
// a history event each, and restart_sla restarts their clocks for good.
func TestExceptionLifecycle(t *testing.T) { storetest.Run(t, testExceptionLifecycle) }

func testExceptionLifecycle(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	putHosts(t, st, 1_790_000_000, ownedHosts()...)
	pol := exceptions.DefaultPolicy()
	add := func(e exceptions.Exception, at time.Time) (int64, error) {
		if err := e.Validate(pol, at.UTC().Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
		var id int64
		err := st.Write(ctx, func(tx *Tx) error {
			var err error
			if id, err = tx.AddException(&e, at); err != nil {
				return err
			}
			_, err = tx.ApplyExceptions(at, nil)
			return err
		})
		return id, err
	}
	apply := func(at time.Time, restart Restart) ApplyResult {
		var res ApplyResult
		if err := st.Write(ctx, func(tx *Tx) error {
			var err error
			res, err = tx.ApplyExceptions(at, restart)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Setenv(clock.Env, "2026-12-05T09:00:00Z")

	// A scope that covers nothing is refused.
	if _, err := add(exceptions.Exception{Type: "risk_accepted", Scope: exceptions.Scope{QID: 1, Tag: "nowhere"},
		Reason: "r", Approver: "ciso@corp.example", Until: "2027-01-31"}, day("2026-12-05")); err == nil {
		t.Fatal("an exception covering no finding was recorded")
	}

	id1, err := add(exceptions.Exception{Type: "risk_accepted", Scope: exceptions.Scope{QID: 1, Tag: "pci"},
		Reason: "TLS 1.1 needed by the payment terminal", Approver: "ciso@corp.example", RecordedBy: "alice", Until: "2027-03-31"}, day("2026-12-05"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := add(exceptions.Exception{Type: "false_positive", Scope: exceptions.Scope{QID: 2, CIDR: "10.9.0.0/16", FutureHosts: true},
		Reason: "not installed", Approver: "secops@corp.example", RecordedBy: "bob"}, day("2026-12-05"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"10.1.0.1:1:443": "EXC-1 2027-03-31", "10.9.3.4:2:443": "EXC-2 "}
	if got := excepted(t, st); !equalMaps(got, want) {
		t.Fatalf("excepted = %v, want %v", got, want)
	}

	// New hosts: a PCI one with QID 1 stays out of the fixed scope; one in
	// the range with QID 2 comes into the future-hosts scope.
	det := ownedHosts()[0].Detections
	putHosts(t, st, 1_790_100_000,
		&qualys.Host{ID: 5, IP: "10.1.0.5", Tags: []qualys.Tag{{Name: "PCI"}}, Detections: det},
		&qualys.Host{ID: 6, IP: "10.9.7.7", Detections: det})
	if res := apply(day("2026-12-06"), nil); res.Excepted != 1 || res.Returned != 0 || len(res.Expired) != 0 {
		t.Errorf("apply after new hosts = %+v, want 1 excepted", res)
	}
	want["10.9.7.7:2:443"] = "EXC-2 "
	if got := excepted(t, st); !equalMaps(got, want) {
		t.Fatalf("after new hosts, excepted = %v, want %v", got, want)
	}

	// On its last day it still covers; the day after, it hides nothing,
	// though no write has recorded its expiry yet.
	t.Setenv(clock.Env, "2027-03-31T23:00:00Z")
	if got := excepted(t, st); !equalMaps(got, want) {
		t.Fatalf("on the last day, excepted = %v, want %v", got, want)
	}
	t.Setenv(clock.Env, "2027-04-01T08:00:00Z")
	delete(want, "10.1.0.1:1:443")
	if got := excepted(t, st); !equalMaps(got, want) {
		t.Fatalf("on 2027-04-01 before any write, excepted = %v, want %v", got, want)
	}
	if res := apply(day("2027-04-01"), nil); len(res.Expired) != 1 || res.Expired[0] != id1 || res.Returned != 1 {
		t.Errorf("apply on 2027-04-01 = %+v, want EXC-%d expired and 1 finding back", res, id1)
	}
	ev := exceptionEvents(t, st, "10.1.0.1:1:443")
	if len(ev) != 2 || ev[0].New != "EXC-1" || ev[1].Old != "EXC-1" || ev[1].New != "" || ev[1].Cause != "expired 2027-03-31" {
		t.Errorf("exception history = %+v", ev)
	}
	list, err := st.Exceptions(ctx, ExceptionFilter{States: []string{exceptions.Expired}})
	if err != nil || len(list) != 1 || list[0].ID != id1 {
		t.Fatalf("expired exceptions = %+v, %v", list, err)
	}
	e, events, err := st.Exception(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != exceptions.Expired || len(e.Hosts) != 1 || e.Hosts[0] != 1 || len(events) != 2 || events[0].Action != "add" || events[1].Action != "expire" {
		t.Errorf("EXC-1 = %+v, events %+v", e, events)
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.EditException(id1, "2027-06-30", "", "alice", day("2027-04-01")) }); err == nil {
		t.Error("an expired exception was extended: it needs a new approval")
	}

	// Revoked with restart_sla: the findings come back with their clocks
	// restarted from that day, and later writes keep it.
	if err := st.Write(ctx, func(tx *Tx) error { return tx.RevokeException(id2, "carol", "reinstalled", day("2027-04-02")) }); err != nil {
		t.Fatal(err)
	}
	restart := func(rating, prio string, at time.Time) (string, string) {
		if rating != "High" || prio != "P2" {
			t.Errorf("restart of a %s %s finding", rating, prio)
		}
		return at.AddDate(0, 0, 30).Format(time.DateOnly), at.AddDate(0, 0, 20).Format(time.DateOnly)
	}
	if res := apply(day("2027-04-02"), restart); res.Returned != 2 || res.Restarted != 2 {
		t.Errorf("apply after the revocation = %+v, want 2 back and restarted", res)
	}
	if got := excepted(t, st); len(got) != 0 {
		t.Errorf("after the revocation, excepted = %v", got)
	}
	err = st.Findings(ctx, Filter{QIDs: []int{2}, Hosts: []string{"10.9.3.4"}}, func(r *Row) error {
		if r.BreachDate != "2027-05-02" || r.DueDate != "2027-04-22" {
			t.Errorf("restarted finding: breach %s due %s, want 2027-05-02 and 2027-04-22", r.BreachDate, r.DueDate)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, func(tx *Tx) error {
		r, err := tx.SLARestarts()
		if len(r) != 2 || r[DetKey{2, 2, 443}] != day("2027-04-02").Unix() {
			t.Errorf("SLA restarts = %v", r)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ev := exceptionEvents(t, st, "10.9.3.4:2:443"); len(ev) != 2 || ev[1].Cause != "revoked" {
		t.Errorf("exception history after the revocation = %+v", ev)
	}
	if _, _, err := st.Exception(ctx, 99); !errors.Is(err, ErrNoException) {
		t.Errorf("Exception(99) = %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
