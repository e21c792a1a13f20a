package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// ofStore fills a store with three hosts, each with QIDs 1 and 2 open on
// port 443 since 2024: all overdue by 2027. Host 1 (10.0.0.1) belongs to
// "Payments platform", host 2 (10.0.0.2) to "DB team", host 3 (10.0.1.3) to nobody; QID 1 on
// host 1 and 2 is excepted until 2027-03-31.
func ofStore(t *testing.T, loc string) *Store {
	t.Helper()
	st := openStore(t, loc)
	ctx := context.Background()
	det := func(q int) qualys.Detection {
		return qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Port: 443, Protocol: "tcp", Status: "Active",
			FirstFound: "2024-01-01T00:00:00Z", LastFound: "2026-11-01T00:00:00Z", TimesFound: 3}
	}
	var recs []HostRecord
	for i := int64(1); i <= 3; i++ {
		ip := "10.0.0." + string(rune('0'+i))
		if i == 3 {
			ip = "10.0.1.3" // out of the exception's range
		}
		h := &qualys.Host{ID: i, IP: ip, LastVMScanned: "2026-11-01T00:00:00Z",
			Detections: []qualys.Detection{det(1), det(2)}}
		recs = append(recs, HostRecord{Host: h})
	}
	set := owners.Set{
		{Name: "Payments platform", HostIDs: []int64{1}},
		{Name: "DB team", HostIDs: []int64{2}},
	}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutHosts(recs, now.Unix()); err != nil {
			return err
		}
		// Deadlines and due dates in the past, whatever the scoring made
		// of them.
		if err := tx.exec(`UPDATE detections SET breach_date = '2024-06-01', priority = 'P2', due_date = '2024-05-01'`); err != nil {
			return err
		}
		var hs []owners.Host
		for _, r := range recs {
			hs = append(hs, OwnerHost(r.Host))
		}
		if _, err := tx.AssignOwners(hs, set, now.Unix()); err != nil {
			return err
		}
		e := &exceptions.Exception{Type: exceptions.RiskAccepted, Scope: exceptions.Scope{QID: 1, CIDR: "10.0.0.0/24"},
			Reason: "payment terminal", Approver: "ciso@corp.example", RecordedBy: "test", Until: "2027-03-31"}
		if err := e.Validate(exceptions.DefaultPolicy(), "2027-01-10"); err != nil {
			return err
		}
		if _, err := tx.AddException(e, now); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(now, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func keysOf(t *testing.T, st *Store, f Filter) []string {
	t.Helper()
	var keys []string
	err := st.Findings(context.Background(), f, func(r *Row) error {
		keys = append(keys, r.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// Owners select findings by name in any case, "none" the unowned;
// Excepted the covered ones or the others; the overdue filter and the
// summary leave the excepted findings out, until their exception ends.
func TestOwnerAndExceptedFilters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
		st := ofStore(t, loc)
		yes, no := true, false
		for _, c := range []struct {
			name string
			f    Filter
			want []string
		}{
			{"owner", Filter{Owners: []string{"payments PLATFORM"}}, []string{"10.0.0.1:1:443", "10.0.0.1:2:443"}},
			{"two owners", Filter{Owners: []string{"DB team", "none"}}, []string{"10.0.0.2:1:443", "10.0.0.2:2:443", "10.0.1.3:1:443", "10.0.1.3:2:443"}},
			{"none", Filter{Owners: []string{"NONE"}}, []string{"10.0.1.3:1:443", "10.0.1.3:2:443"}},
			{"unknown owner", Filter{Owners: []string{"Nobody"}}, nil},
			{"excepted", Filter{Excepted: &yes}, []string{"10.0.0.1:1:443", "10.0.0.2:1:443"}},
			{"not excepted", Filter{Excepted: &no}, []string{"10.0.0.1:2:443", "10.0.0.2:2:443", "10.0.1.3:1:443", "10.0.1.3:2:443"}},
			{"owner and excepted", Filter{Owners: []string{"DB team"}, Excepted: &yes}, []string{"10.0.0.2:1:443"}},
			{"overdue", Filter{DueTo: "2027-01-09"}, []string{"10.0.0.1:2:443", "10.0.0.2:2:443", "10.0.1.3:1:443", "10.0.1.3:2:443"}},
			{"due within", Filter{DueFrom: "2020-01-01", DueTo: "2027-02-01", Open: true}, []string{"10.0.0.1:2:443", "10.0.0.2:2:443", "10.0.1.3:1:443", "10.0.1.3:2:443"}},
		} {
			if got := keysOf(t, st, c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		sum, err := st.Summarize(context.Background(), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Overdue != 4 || sum.PastDue != 4 || sum.Excepted != 2 || sum.Open != 6 {
			t.Errorf("summary: overdue %d, past due date %d, excepted %d, open %d; want 4, 4, 2, 6", sum.Overdue, sum.PastDue, sum.Excepted, sum.Open)
		}

		// The day after its last day, the exception no longer hides its
		// findings, though no write recorded its expiry.
		t.Setenv(clock.Env, "2027-04-01T00:00:00Z")
		if got := keysOf(t, st, Filter{Excepted: &yes}); len(got) != 0 {
			t.Errorf("after expiry, excepted: %v", got)
		}
		if got := keysOf(t, st, Filter{DueTo: "2027-03-31"}); len(got) != 6 {
			t.Errorf("after expiry, %d overdue, want 6: %v", len(got), got)
		}
		sum, err = st.Summarize(context.Background(), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Overdue != 6 || sum.PastDue != 6 || sum.Excepted != 0 {
			t.Errorf("summary after expiry: overdue %d, past due date %d, excepted %d; want 6, 6, 0", sum.Overdue, sum.PastDue, sum.Excepted)
		}
	})
}
