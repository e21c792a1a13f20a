package load

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// twoHosts is a detection list of the data of time at: QID 38170 on
// port 443 of a PCI-tagged host and of an untagged one.
func twoHosts(at string) string {
	host := func(id, ip, tags string) string {
		return `<HOST><ID>` + id + `</ID><IP>` + ip + `</IP><TRACKING_METHOD>IP</TRACKING_METHOD>` + tags + `
<DETECTION_LIST><DETECTION><QID>38170</QID><TYPE>Confirmed</TYPE><SEVERITY>3</SEVERITY><PORT>443</PORT><PROTOCOL>tcp</PROTOCOL>
<STATUS>Active</STATUS><FIRST_FOUND_DATETIME>2022-04-01T00:00:00Z</FIRST_FOUND_DATETIME><LAST_FOUND_DATETIME>` + at + `</LAST_FOUND_DATETIME>
</DETECTION></DETECTION_LIST></HOST>`
	}
	return `<?xml version="1.0" encoding="UTF-8" ?>
<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>` + at + `</DATETIME><HOST_LIST>` +
		host("1", "10.0.0.1", `<TAGS><TAG><TAG_ID>5</TAG_ID><NAME>PCI</NAME></TAG></TAGS>`) + host("2", "10.0.0.2", "") +
		`</HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>
`
}

func findingsByKey(t *testing.T, st *store.Store) map[string]store.Row {
	t.Helper()
	out := map[string]store.Row{}
	if err := st.Findings(context.Background(), store.Filter{}, func(r *store.Row) error {
		out[r.Key] = *r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every import gives findings their owners, a change of rules reassigns
// them without new data, an exception's expiry is applied by the next
// import, and with restart_sla the deadline counts from the expiry on
// every import after it.
func TestImportOwnersAndExceptions(t *testing.T) { storetest.Each(t, testImportOwnersAndExceptions) }

func testImportOwnersAndExceptions(t *testing.T, be storetest.Backend) {
	ctx := context.Background()
	st := openStore(t, be)
	rules := func(pci string) owners.Set {
		s := owners.Set{{Name: pci, Tags: []string{"pci"}}, {Name: "Platform", Default: true}}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Date(2022, 5, 2, 9, 0, 0, 0, time.UTC)
	t.Setenv("QVT_NOW", now.Format(time.RFC3339))
	l := &Loader{Policy: assess.DefaultPolicy(), Owners: rules("Payments"), Exceptions: exceptions.Policy{RestartSLA: true},
		Now: func() time.Time { return now }}
	doc := writeFile(t, "hld.xml", twoHosts("2022-05-01T00:00:00Z"))
	if _, err := l.Files(ctx, st, []string{doc}); err != nil {
		t.Fatal(err)
	}
	f := findingsByKey(t, st)
	if f["10.0.0.1:38170:443"].Owner != "Payments" || f["10.0.0.2:38170:443"].Owner != "Platform" {
		t.Fatalf("owners after the import: %q, %q", f["10.0.0.1:38170:443"].Owner, f["10.0.0.2:38170:443"].Owner)
	}

	// New rules apply on the next write, with no new data.
	l.Owners = rules("Card data")
	if _, err := l.Files(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	if o := findingsByKey(t, st)["10.0.0.1:38170:443"].Owner; o != "Card data" {
		t.Fatalf("owner after the rules changed: %q", o)
	}

	e := exceptions.Exception{Type: "risk_accepted", Scope: exceptions.Scope{Key: "10.0.0.1:38170:443"}, Reason: "terminal", Approver: "ciso", Until: "2022-06-30"}
	if err := e.Validate(exceptions.DefaultPolicy(), "2022-05-02"); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.AddException(&e, now); err != nil {
			return err
		}
		_, err := l.ApplyExceptions(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := findingsByKey(t, st)["10.0.0.1:38170:443"]
	if !before.Excepted || before.BreachDate != "2022-06-30" { // Medium: 90 days from 2022-04-01
		t.Fatalf("excepted %v, deadline %s", before.Excepted, before.BreachDate)
	}

	// Within warn_days of its last day, each write warns of it.
	var logged strings.Builder
	l.Log = slog.New(slog.NewTextHandler(&logged, nil))
	now = time.Date(2022, 6, 15, 9, 0, 0, 0, time.UTC)
	if _, err := l.Files(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), `level=WARN msg="exceptions expire soon`) || !strings.Contains(logged.String(), "EXC-1 2022-06-30") {
		t.Errorf("no warning of EXC-1's expiry 15 days ahead: %s", logged.String())
	}
	l.Log = nil

	// The next import after its last day records the expiry and restarts
	// the clock: Medium, 90 days from 2022-07-01.
	now = time.Date(2022, 7, 1, 9, 0, 0, 0, time.UTC)
	t.Setenv("QVT_NOW", now.Format(time.RFC3339))
	if _, err := l.Files(ctx, st, []string{writeFile(t, "hld2.xml", twoHosts("2022-06-30T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	after := findingsByKey(t, st)
	if r := after["10.0.0.1:38170:443"]; r.Excepted || r.BreachDate != "2022-09-29" {
		t.Fatalf("after the expiry: excepted %v, deadline %s, want 2022-09-29", r.Excepted, r.BreachDate)
	}
	if r := after["10.0.0.2:38170:443"]; r.BreachDate != "2022-06-30" {
		t.Errorf("the other finding's deadline moved to %s", r.BreachDate)
	}
	// Later data, and a rescoring of everything, keep the restarted clock.
	if _, err := l.Files(ctx, st, []string{writeFile(t, "hld3.xml", twoHosts("2022-07-15T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.QueueAll(); err != nil {
			return err
		}
		return l.Rescore(tx)
	}); err != nil {
		t.Fatal(err)
	}
	if r := findingsByKey(t, st)["10.0.0.1:38170:443"]; r.BreachDate != "2022-09-29" {
		t.Errorf("a later import and a rescoring moved the restarted deadline to %s", r.BreachDate)
	}
}
