package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/gen"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// genWrites are the transactions that fill a store from a generated data
// set: its KB, NVD and scores under two environment policies, then the
// hosts of each epoch given (a later epoch fixes, re-opens and closes
// findings as gone, so revisions and history grow). Every few hosts are
// changed so that the reader's hard cases occur: two hosts with one
// address (the most recently found finding wins), IPv6 addresses whose
// keys interleave ("2001:db8::1:" is a prefix of "2001:db8::1:5:"), a
// host with no address at all, and tags that differ in case, some with a
// non-ASCII capital. Without hard, the hosts are as generated: the hard
// cases gather a fixed share of the hosts in one group of interleaving
// keys, which a benchmark would measure instead of the reader.
func genWrites(d *gen.Dataset, hard bool, epochs ...int) []func(*Tx) error {
	pol := assess.DefaultPolicy()
	derive := func(in RateInput) Derived {
		sev := in.Severity
		if sev == 0 {
			sev = in.Score.KBSeverity
		}
		rating := in.Score.Rating
		if rating == "" {
			rating = assess.SeverityRating(sev)
		}
		start := assess.SLAStart(in.FirstFound, in.LastReopened, in.Score.Published, pol)
		return Derived{VulnScore: rating, BreachDate: assess.BreachDate(start, rating, pol)}
	}
	kb := func(tx *Tx) error {
		var vs []*qualys.Vuln
		for _, q := range d.QIDs() {
			v := d.Vuln(q, 0)
			vs = append(vs, &v)
		}
		if err := tx.PutVulns(vs); err != nil {
			return err
		}
		if err := tx.QueueAll(); err != nil {
			return err
		}
		err := tx.ScoreInputs(func(in *assess.QIDInput) error {
			for p, env := range []map[string]string{nil, {"CR": "H", "IR": "H", "AR": "H"}} {
				s := assess.ScoreQID(*in, pol, env)
				if err := tx.PutScore(p, &s, in.Severity, in.Published); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ClearQueue()
	}
	writes := []func(*Tx) error{kb}
	for _, e := range epochs {
		seen := d.Now(e).Unix()
		writes = append(writes, func(tx *Tx) error {
			ratings, err := tx.Ratings()
			if err != nil {
				return err
			}
			var hs []HostRecord
			for _, id := range d.HostIDs(e) {
				h := d.Host(id, e)
				switch {
				case !hard:
				case id%13 == 0:
					// The address of another host, found at other times.
					o := d.Host(id-1, e)
					h.IP, h.IPv6 = o.IP, o.IPv6
				case id%17 == 0:
					h.IP, h.IPv6 = "", "2001:db8::1:"+strconv.FormatInt(id%5, 10)
				case id%19 == 0:
					h.IP, h.IPv6 = "", "2001:db8::1"
				case id%23 == 0:
					h.IP, h.IPv6 = "", ""
				}
				if hard && e > 0 && id%5 == 0 && len(h.Detections) > 2 {
					// No longer reported by a later scan: gone.
					h.Detections = h.Detections[2:]
				}
				if hard && id%3 == 0 {
					h.Tags = append(h.Tags, qualys.Tag{ID: 1, Name: "ÉQuipe Web"})
				}
				if id%4 == 0 {
					h.Tags = append(h.Tags, qualys.Tag{ID: 2, Name: "PCI"})
				} else if hard && id%4 == 1 {
					h.Tags = append(h.Tags, qualys.Tag{ID: 3, Name: "pci-scope"})
				}
				slices.SortStableFunc(h.Detections, func(a, b qualys.Detection) int {
					if a.QID != b.QID {
						return a.QID - b.QID
					}
					if a.Port != b.Port {
						return a.Port - b.Port
					}
					return strings.Compare(b.LastFound, a.LastFound)
				})
				rec := HostRecord{Host: &h, Policy: int(id % 2), Derived: make([]Derived, len(h.Detections))}
				for i := range h.Detections {
					det := &h.Detections[i]
					sc, ok := ratings[QIDKey{QID: det.QID, Policy: rec.Policy}]
					if !ok {
						sc = ratings[QIDKey{QID: det.QID}]
					}
					first, _ := time.Parse(time.RFC3339, det.FirstFound)
					rec.Derived[i] = derive(RateInput{QID: det.QID, Policy: rec.Policy, Severity: det.Severity,
						FirstFound: first.Unix(), Score: sc})
					rec.Derived[i].Extra = DetectionExtra(det)
				}
				hs = append(hs, rec)
			}
			return tx.PutHosts(hs, seen)
		})
	}
	return writes
}

// parityStores are two stores, SQLite and PostgreSQL, with the same data:
// the PostgreSQL one a copy of the SQLite one.
func parityStores(t *testing.T, cfg gen.Config, epochs ...int) (lite, pg *Store) {
	t.Helper()
	lite = fillAt(t, t.TempDir()+"/qvt.db", genWrites(gen.New(cfg), true, epochs...)...)
	pg = openAt(t, storetest.Postgres(t))
	fillFrom(t, lite, pg)
	return lite, pg
}

// plain is a copy of a Row and of its Shared entry, which the reader may
// give to later rows: what a reader of the row sees.
func plain(r *Row) Row {
	out := *r
	if r.Shared != nil {
		s := *r.Shared
		out.Shared = &s
	}
	return out
}

func readAll(t *testing.T, st *Store, f Filter) ([]Row, error) {
	t.Helper()
	var out []Row
	err := st.Findings(context.Background(), f, func(r *Row) error {
		out = append(out, plain(r))
		return nil
	})
	return out, err
}

// firstDiff says where two lists of rows differ first.
func firstDiff[T any](a, b []T, key func(T) string) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("row %d: SQLite %s\n%+v\nPostgreSQL %s\n%+v", i, key(a[i]), a[i], key(b[i]), b[i])
		}
	}
	return fmt.Sprintf("SQLite gives %d rows, PostgreSQL %d", len(a), len(b))
}

// Both engines give the same findings, field for field, in the same
// order, for every filter and the combinations the dashboard and export
// make; and the same changed findings to publishers.
func TestFindingsParity(t *testing.T) {
	lite, pg := parityStores(t, gen.Config{Seed: 7, QIDs: 300, Hosts: 120, DetectionsPerHost: 20, CVEs: 1500}, 0, 20)
	all, err := readAll(t, lite, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// Values to filter on, taken from the data.
	var cve, hostname, v6 string
	var qids []int
	var dues []string
	keys := map[string]bool{}
	var fixed, gone, withCVE, shared int
	addrs := map[string]map[int64]bool{}
	for _, r := range all {
		if keys[r.Key] {
			t.Fatalf("key %s given twice", r.Key)
		}
		keys[r.Key] = true
		if addrs[r.IP] == nil {
			addrs[r.IP] = map[int64]bool{}
		}
		addrs[r.IP][r.HostID] = true
		if len(r.CVEs) > 0 {
			withCVE++
			if cve == "" {
				cve = r.CVEs[len(r.CVEs)-1]
			}
		}
		if r.Hostname != "" && hostname == "" {
			hostname = r.Hostname
		}
		if strings.Contains(r.IP, ":") && v6 == "" {
			v6 = r.IP
		}
		if len(qids) < 3 && !slices.Contains(qids, r.QID) && r.QID%3 == 0 {
			qids = append(qids, r.QID)
		}
		if r.BreachDate != "" && !r.Closed {
			dues = append(dues, r.BreachDate)
		}
		switch r.ClosedReason {
		case "fixed":
			fixed++
		case "gone":
			gone++
		}
	}
	for _, hs := range addrs {
		if len(hs) > 1 {
			shared++
		}
	}
	slices.Sort(dues)
	if len(all) < 1000 || fixed == 0 || gone == 0 || withCVE == 0 || shared == 0 || len(dues) < 10 || v6 == "" || hostname == "" {
		t.Fatalf("the data lacks a case: %d findings, %d fixed, %d gone, %d with CVEs, %d shared addresses, %d deadlines, IPv6 %q, hostname %q",
			len(all), fixed, gone, withCVE, shared, len(dues), v6, hostname)
	}
	dueFrom, dueTo := dues[len(dues)/4], dues[len(dues)*3/4]
	filters := []Filter{
		{},
		{Open: true},
		{Statuses: []string{"Active"}},
		{Statuses: []string{"Fixed", "New"}},
		{States: []string{"New", "Active", "Re-Opened"}},
		{States: []string{"Re-Opened", "fixed"}},
		{States: []string{"gone"}},
		{Open: true, Statuses: []string{"Fixed"}},
		{MinRating: "High"},
		{MinRating: "None"},
		{Open: true, MinRating: "Critical"},
		{Hosts: []string{"7"}},
		{Hosts: []string{all[len(all)/2].IP}},
		{Hosts: []string{strings.ToUpper(hostname), v6}},
		{Hosts: []string{"2001:db8::1"}},
		{Hosts: []string{"no-such-host"}},
		{QIDs: qids},
		{QIDs: qids, MinRating: "Medium", Open: true},
		{CVEs: []string{" " + strings.ToLower(cve) + " "}},
		{CVEs: []string{cve}, QIDs: qids},
		{CVEs: []string{"CVE-1999-0000"}},
		{Tags: []string{"pci"}},
		{Tags: []string{"PCI-SCOPE", "Nothing"}},
		{Tags: []string{"équipe web"}}, // É is no ASCII capital: neither engine folds it
		{Tags: []string{"ÉQUIPE WEB"}},
		{Tags: []string{"ÉQuipe web"}, Open: true},
		{DueTo: dueTo},
		{DueFrom: dueFrom, DueTo: dueTo},
		{DueFrom: dueFrom, DueTo: dueTo, MinRating: "High", Tags: []string{"pci"}},
		{Open: true, Statuses: []string{"Fixed"}, States: []string{"gone"}, MinRating: "Low", Hosts: []string{v6, "10"}, Tags: []string{"Pci"}},
	}
	for _, f := range filters {
		name := fmt.Sprintf("%+v", f)
		t.Run(name, func(t *testing.T) {
			want, err := readAll(t, lite, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, pg, f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s", firstDiff(want, got, func(r Row) string { return r.Key }))
			}
		})
	}
	// A cache of a few entries and small fetches: entries read ahead for
	// a batch are evicted before their use and read again, batches end
	// inside groups; the rows are the same.
	t.Run("small cache", func(t *testing.T) {
		defer func(b, f int) { kbCacheBytes, pgFetch = b, f }(kbCacheBytes, pgFetch)
		kbCacheBytes, pgFetch = 30_000, 7
		for _, f := range []Filter{{}, {Open: true, Tags: []string{"pci"}}} {
			want, err := readAll(t, lite, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, pg, f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: %s", f, firstDiff(want, got, func(r Row) string { return r.Key }))
			}
		}
	})
	// The tag filter's folding is SQLite's: ASCII letters only.
	for _, c := range []struct {
		tag  string
		some bool
	}{{"équipe web", false}, {"ÉQUIPE WEB", true}} {
		rows, _ := readAll(t, pg, Filter{Tags: []string{c.tag}})
		if (len(rows) > 0) != c.some {
			t.Errorf("tag %q selects %d findings", c.tag, len(rows))
		}
	}
	// A filter that is an error on one engine is on the other.
	for _, f := range []Filter{{States: []string{"closed"}}, {MinRating: "Severe"}} {
		_, lerr := readAll(t, lite, f)
		_, perr := readAll(t, pg, f)
		if lerr == nil || perr == nil || lerr.Error() != perr.Error() {
			t.Errorf("%+v: SQLite says %v, PostgreSQL %v", f, lerr, perr)
		}
	}

	ctx := context.Background()
	rev, err := lite.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(st *Store, since int64) []Published {
		var out []Published
		err := st.Changed(ctx, since, func(p *Published) error {
			c := *p
			c.Row = plain(&p.Row)
			out = append(out, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, since := range []int64{0, 1, rev - 1, rev} {
		want, got := changed(lite, since), changed(pg, since)
		if since == rev-1 && len(want) == 0 {
			t.Errorf("no finding changed by the last write")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Changed since %d: %s", since, firstDiff(want, got, func(p Published) string { return p.Key }))
		}
	}
	history := func(st *Store, after int64) ([]HistoryRow, int64) {
		var out []HistoryRow
		last, err := st.HistoryAfter(ctx, after, func(h HistoryRow) error { out = append(out, h); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out, last
	}
	want, wlast := history(lite, 0)
	got, glast := history(pg, 0)
	if len(want) == 0 || !reflect.DeepEqual(got, want) || glast != wlast {
		t.Errorf("HistoryAfter: %d rows up to %d on SQLite, %d up to %d on PostgreSQL", len(want), wlast, len(got), glast)
	}
	today := gen.New(gen.Config{}).Now(20)
	wsum, err := lite.Summarize(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	gsum, err := pg.Summarize(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gsum, wsum) || wsum.Overdue == 0 {
		t.Errorf("Summarize: SQLite %+v, PostgreSQL %+v", wsum, gsum)
	}
}
