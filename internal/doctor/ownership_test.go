package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"qvt/internal/config"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The doctor tells open findings no rule owns when there is no default,
// rules that own nothing, exceptions about to expire and those past their
// last day, on both engines, reading the store without changing it.
func TestOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, be storetest.Backend) {
		ctx := context.Background()
		loc := be.New(t)
		st, err := store.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		det := qualys.Detection{QID: 1, Type: "Confirmed", Severity: 3, Status: "Active", Port: 443,
			FirstFound: "2026-11-01T00:00:00Z", LastFound: "2026-11-20T00:00:00Z"}
		hosts := []*qualys.Host{
			{ID: 1, IP: "10.1.0.1", Tags: []qualys.Tag{{Name: "PCI"}}, Detections: []qualys.Detection{det}},
			{ID: 2, IP: "10.2.0.2", Detections: []qualys.Detection{det}},
		}
		cfg := config.Default()
		cfg.DB = loc
		cfg.Owners = owners.Set{{Name: "Payments", Tags: []string{"PCI"}}, {Name: "Mainframe", Tags: []string{"zOS"}}}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
		err = st.Write(ctx, func(tx *store.Tx) error {
			var recs []store.HostRecord
			var oh []owners.Host
			for _, h := range hosts {
				recs = append(recs, store.HostRecord{Host: h, Derived: make([]store.Derived, 1)})
				oh = append(oh, store.OwnerHost(h))
			}
			if err := tx.PutHosts(recs, now.Unix()); err != nil {
				return err
			}
			if _, err := tx.AssignOwners(oh, cfg.Owners, now.Unix()); err != nil {
				return err
			}
			for _, until := range []string{"2026-12-20", "2027-06-01"} {
				e := exceptions.Exception{Type: "risk_accepted", Scope: exceptions.Scope{QID: 1}, Reason: "r", Approver: "a", Until: until}
				if err := e.Validate(cfg.Exceptions, "2026-12-05"); err != nil {
					return err
				}
				if _, err := tx.AddException(&e, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rev, _ := st.Revision(ctx)
		text := func(cs []Check) string {
			var b strings.Builder
			for _, c := range cs {
				b.WriteString(c.Level.String() + " " + c.Area + " " + c.Message + "\n")
			}
			return b.String()
		}
		got := text(Ownership(ctx, cfg, now))
		for _, want := range []string{
			"warn owners 1 open findings match no ownership rule, and no owner is the default",
			"warn owners 1 owners have no open finding: Mainframe",
			"warn exceptions 1 exceptions expire within 30 days: EXC-1 (2026-12-20)",
			"ok exceptions 2 active exceptions",
		} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("the checks do not say %q:\n%s", want, got)
			}
		}
		got = text(Ownership(ctx, cfg, now.AddDate(0, 0, 20)))
		if !strings.Contains(got, "ok exceptions EXC-1 past their last day") || !strings.Contains(got, "ok exceptions 1 active exceptions") {
			t.Errorf("after EXC-1's last day:\n%s", got)
		}
		if r, _ := st.Revision(ctx); r != rev {
			t.Errorf("the doctor changed the store: revision %d, was %d", r, rev)
		}
	})
}
