package store

import (
	"context"
	"testing"

	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// ownedHosts are four hosts: a PCI-tagged one, one in 10.9.0.0/16, a
// Windows box named db-*, and one nothing matches; each has QIDs 1 and 2
// (2 is of category Database).
func ownedHosts() []*qualys.Host {
	det := func(q int) qualys.Detection {
		return qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Status: "Active", Port: 443,
			FirstFound: "2026-11-01T00:00:00Z", LastFound: "2026-11-20T00:00:00Z"}
	}
	return []*qualys.Host{
		{ID: 1, IP: "10.1.0.1", Tags: []qualys.Tag{{Name: "PCI"}}, Detections: []qualys.Detection{det(1), det(2)}},
		{ID: 2, IP: "10.9.3.4", Detections: []qualys.Detection{det(1), det(2)}},
		{ID: 3, IP: "10.2.0.3", FQDN: "db-07.corp.example", OS: "Windows Server 2019", Detections: []qualys.Detection{det(1), det(2)}},
		{ID: 4, IP: "10.3.0.4", Detections: []qualys.Detection{det(1), det(2)}},
	}
}

func ownerRules(t *testing.T, rules ...owners.Rule) owners.Set {
	t.Helper()
	s := owners.Set(rules)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// owned reads each finding's owner by key.
func owned(t *testing.T, st *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := st.Findings(context.Background(), Filter{}, func(r *Row) error {
		out[r.Key] = r.Owner
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Owners come from the first rule that matches, by tag, range, hostname
// pattern or QID category, else the default; new rules reassign stored
// findings, each change entering the history (a first assignment does
// not).
func TestAssignOwners(t *testing.T) { storetest.Run(t, testAssignOwners) }

func testAssignOwners(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	set := ownerRules(t,
		owners.Rule{Name: "DBA", Categories: []string{"database"}, Hostnames: []string{"db-*"}},
		owners.Rule{Name: "Payments", Tags: []string{"pci"}},
		owners.Rule{Name: "Network", CIDRs: []string{"10.9.0.0/16"}},
		owners.Rule{Name: "Windows", OS: []string{"windows server*"}},
		owners.Rule{Name: "Platform", Default: true},
	)
	hosts := ownedHosts()
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutVulns([]*qualys.Vuln{{QID: 1, Title: "one", Category: "Windows"}, {QID: 2, Title: "two", Category: "Database"}}); err != nil {
			return err
		}
		var recs []HostRecord
		var oh []owners.Host
		for _, h := range hosts {
			recs = append(recs, HostRecord{Host: h, Derived: make([]Derived, len(h.Detections))})
			oh = append(oh, OwnerHost(h))
		}
		if err := tx.PutHosts(recs, 1_790_000_000); err != nil {
			return err
		}
		_, err := tx.AssignOwners(oh, set, 1_790_000_000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"10.1.0.1:1:443": "Payments", "10.1.0.1:2:443": "Payments",
		"10.9.3.4:1:443": "Network", "10.9.3.4:2:443": "Network",
		"10.2.0.3:1:443": "Windows", "10.2.0.3:2:443": "DBA", // the DBA rule needs the name and the category; the first rule wins
		"10.3.0.4:1:443": "Platform", "10.3.0.4:2:443": "Platform",
	}
	got := owned(t, st)
	for k, o := range want {
		if got[k] != o {
			t.Errorf("%s: owner %q, want %q", k, got[k], o)
		}
	}
	rev0, _ := st.Revision(ctx)

	// The PCI hosts move to another team; the default goes.
	set2 := ownerRules(t, owners.Rule{Name: "Card data", Tags: []string{"PCI"}}, owners.Rule{Name: "DBA", QIDs: []int{2}})
	var n int
	if err := st.Write(ctx, func(tx *Tx) error {
		n, err = tx.ReassignOwners(set2, 1_790_086_400)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got = owned(t, st)
	want2 := map[string]string{
		"10.1.0.1:1:443": "Card data", "10.1.0.1:2:443": "Card data",
		"10.9.3.4:1:443": "", "10.9.3.4:2:443": "DBA",
		"10.2.0.3:1:443": "", "10.2.0.3:2:443": "DBA",
		"10.3.0.4:1:443": "", "10.3.0.4:2:443": "DBA",
	}
	changed := 0
	for k, o := range want2 {
		if got[k] != o {
			t.Errorf("after the new rules, %s: owner %q, want %q", k, got[k], o)
		}
		if want[k] != o {
			changed++
		}
	}
	if n != changed {
		t.Errorf("ReassignOwners = %d, want %d", n, changed)
	}
	rev1, _ := st.Revision(ctx)
	if rev1 <= rev0 {
		t.Errorf("revision %d after a change of owners, was %d: publishers would not route them", rev1, rev0)
	}
	lives, err := st.History(ctx, "10.1.0.1:1:443")
	if err != nil || len(lives) != 1 {
		t.Fatalf("history: %v %v", lives, err)
	}
	var events []Change
	for _, c := range lives[0].Changes {
		if c.Event == "owner" {
			events = append(events, c)
		}
	}
	if len(events) != 1 || events[0].Old != "Payments" || events[0].New != "Card data" {
		t.Errorf("owner history of 10.1.0.1:1:443 = %+v, want one change Payments → Card data", events)
	}

	// The same rules again change nothing.
	if err := st.Write(ctx, func(tx *Tx) error {
		n, err = tx.ReassignOwners(set2, 1_790_172_800)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the same rules again changed %d owners", n)
	}
}

// The owners' summary counts each owner's open findings, leaves the
// excepted ones out of overdue, and puts the unowned last.
func TestOwnerSummary(t *testing.T) { storetest.Run(t, testOwnerSummary) }

func testOwnerSummary(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	hosts := ownedHosts()
	putHosts(t, st, 1_790_000_000, hosts...) // every deadline 2026-12-01, P2, High
	set := ownerRules(t, owners.Rule{Name: "Payments", Tags: []string{"PCI"}}, owners.Rule{Name: "Network", CIDRs: []string{"10.9.0.0/16"}})
	e := exceptions.Exception{Type: "false_positive", Scope: exceptions.Scope{Key: "10.1.0.1:2:443"}, Reason: "r", Approver: "a"}
	if err := e.Validate(exceptions.DefaultPolicy(), "2026-12-05"); err != nil {
		t.Fatal(err)
	}
	err := st.Write(ctx, func(tx *Tx) error {
		var oh []owners.Host
		for _, h := range hosts {
			oh = append(oh, OwnerHost(h))
		}
		if _, err := tx.AssignOwners(oh, set, 1_790_000_000); err != nil {
			return err
		}
		if _, err := tx.AddException(&e, day("2026-12-05")); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(day("2026-12-05"), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Host 4's QID 1 was fixed on 2026-11-25, 24 days after it was found
	// and before its deadline.
	fixed := *hosts[3]
	fixed.Detections = append([]qualys.Detection(nil), hosts[3].Detections...)
	fixed.Detections[0].Status, fixed.Detections[0].LastFixed = "Fixed", "2026-11-25T00:00:00Z"
	putHosts(t, st, 1_790_100_000, &fixed)
	got, err := st.OwnerSummary(ctx, "2026-12-05")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Owner != "Network" || got[1].Owner != "Payments" || got[2].Owner != "" {
		t.Fatalf("owners %+v, want Network, Payments, then the unowned", got)
	}
	pay := got[1]
	if pay.Hosts != 1 || pay.Open != 2 || pay.Excepted != 1 || pay.Overdue != 1 || pay.PastDue != 1 || pay.ByPriority["P2"] != 2 || pay.ByRating["High"] != 2 {
		t.Errorf("Payments = %+v", pay)
	}
	if none := got[2]; none.Hosts != 2 || none.Open != 3 || none.Overdue != 3 || none.Excepted != 0 ||
		none.Fixed != 1 || none.FixedInTime != 1 || none.MeanDaysToFix != 24 {
		t.Errorf("unowned = %+v", none)
	}
}
