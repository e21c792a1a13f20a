package web

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/environment"
	"qvt/internal/load"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// policyServer is the dashboard over the fixture store with its hosts
// scored under two environment policies: one on the hosts of the most
// common tag, one on those of the rarest.
func policyServer(t *testing.T, loc string) *Server {
	t.Helper()
	s, _ := newServerAt(t, loc, Config{})
	withPolicies(t, s)
	return s
}

// withPolicies scores the hosts of s's store under two environment
// policies (policyServer).
func withPolicies(t *testing.T, s *Server) {
	t.Helper()
	ctx := context.Background()
	var common, rare string
	err := s.st.DB().QueryRow("SELECT name FROM host_tags GROUP BY name ORDER BY count(*) DESC, name LIMIT 1").Scan(&common)
	if err == nil {
		err = s.st.DB().QueryRow("SELECT name FROM host_tags WHERE name <> ? GROUP BY name ORDER BY count(*), name LIMIT 1", common).Scan(&rare)
	}
	if err != nil {
		t.Fatalf("the fixture's tags: %v", err)
	}
	envs := environment.Set{
		{Name: "internet-facing", Tags: []string{common}, Metrics: map[string]string{"MAV": "N", "CR": "H", "IR": "H", "AR": "H"}},
		{Name: "lab", Tags: []string{rare}, Metrics: map[string]string{"CR": "L", "IR": "L", "AR": "L"}},
	}
	if err := envs.Validate(); err != nil {
		t.Fatal(err)
	}
	l := &load.Loader{Policy: assess.DefaultPolicy(), Envs: envs}
	if err := s.st.Write(ctx, func(tx *store.Tx) error {
		if err := l.CheckPolicy(tx); err != nil {
			return err
		}
		return l.Rescore(tx)
	}); err != nil {
		t.Fatal(err)
	}
}

// The hosts' policies are read once for a state of the store, and again
// once it has changed.
func TestHostPoliciesFollowTheStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s, _ := newServerAt(t, loc, Config{})
		read := func() *hostPolicies {
			tx, err := s.st.BeginRead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			hp, err := s.hostPolicies(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			return hp
		}
		if hp := read(); len(hp.hosts) != 0 || len(hp.used) != 0 {
			t.Fatalf("before any policy: %d hosts with one, policies %v", len(hp.hosts), hp.used)
		}
		withPolicies(t, s)
		var want int
		if err := s.st.DB().QueryRow("SELECT count(*) FROM hosts WHERE policy <> 0").Scan(&want); err != nil {
			t.Fatal(err)
		}
		hp := read()
		if want == 0 || len(hp.hosts) != want || len(hp.used) != 2 {
			t.Fatalf("after two policies: %d hosts with one, policies %v; the store has %d", len(hp.hosts), hp.used, want)
		}
		if again := read(); again != hp {
			t.Error("the policies were read again, the store unchanged")
		}
		// A change of the policies: the hosts of the first reassigned,
		// as a change of the configuration does before it rescores.
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ReassignPolicies(func(id int64, _, _ []string) int {
				if p := hp.hosts[id]; p != hp.used[0] {
					return p
				}
				return 0
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if again := read(); len(again.used) != 1 || again.used[0] != hp.used[1] {
			t.Errorf("after a change of the policies: policies %v, want [%d]", again.used, hp.used[1])
		}
	})
}

// The list sorts a QID set in the priority order by urgencies it computes
// from the QIDs' risk and scores and the hosts' environment policies
// (setUrgencies), not read from each finding: each must be the one the
// store holds, which the walk of detections_priority orders by. Checked
// for every finding of a store whose hosts are scored under two
// environment policies, so that one QID's findings differ in urgency.
func TestListUrgencyMatchesStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s := policyServer(t, loc)

		tx, err := s.st.BeginRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		rows, err := tx.Query("SELECT host_id, qid, port, priority, urgency FROM detections WHERE type <> 'Info'")
		if err != nil {
			t.Fatal(err)
		}
		var keys []Cursor
		var stored []int64
		for rows.Next() {
			var c Cursor
			var u int64
			if err := rows.Scan(&c.HostID, &c.QID, &c.Port, &c.Priority, &u); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, c)
			stored = append(stored, u)
		}
		rows.Close()
		urgency, err := s.setUrgencies(ctx, tx, keys)
		if err != nil {
			t.Fatal(err)
		}
		perQID := map[int]map[int64]bool{}
		bad := 0
		for i, k := range keys {
			if got := urgency(k); got != stored[i] {
				if bad++; bad <= 5 {
					t.Errorf("%d:%d:%d (%s): urgency %d, the store holds %d", k.HostID, k.QID, k.Port, k.Priority, got, stored[i])
				}
			}
			if perQID[k.QID] == nil {
				perQID[k.QID] = map[int64]bool{}
			}
			perQID[k.QID][stored[i]] = true
		}
		if bad > 0 {
			t.Fatalf("%d of %d findings", bad, len(keys))
		}
		var policies, split int
		if err := tx.QueryRow("SELECT count(DISTINCT policy) FROM hosts WHERE policy <> 0").Scan(&policies); err != nil {
			t.Fatal(err)
		}
		for _, us := range perQID {
			if len(us) > 1 {
				split++
			}
		}
		if policies != 2 || split == 0 {
			t.Fatalf("%d environment policies in use, %d QIDs whose findings differ in urgency: the check proves nothing", policies, split)
		}
		tx.Rollback()

		// The list in the priority order, of a QID whose findings differ
		// in urgency and of one whose findings share one, read from their
		// ranges of detections_qid (and, with no QID walk, from
		// detections_priority), page by page both ways, as a plain sort
		// of the stored rows.
		var splitQID, oneQID, most int
		counts := map[int]int{}
		for _, k := range keys {
			counts[k.QID]++
		}
		for q, us := range perQID {
			if len(us) > 1 && (splitQID == 0 || counts[q] > counts[splitQID] || counts[q] == counts[splitQID] && q < splitQID) {
				splitQID = q
			}
			if len(us) == 1 && (counts[q] > most || counts[q] == most && q < oneQID) {
				oneQID, most = q, counts[q]
			}
		}
		if oneQID == 0 || counts[splitQID] < 8 || counts[oneQID] < 8 {
			t.Fatalf("QID %d (%d findings) of several urgencies, QID %d (%d) of one: too few to cross pages", splitQID, counts[splitQID], oneQID, counts[oneQID])
		}
		// A QID found on one host on two ports, the second made alike the
		// first in all the order reads: a page of one finding puts the
		// cursor between them.
		var ports int
		var host int64
		if err := s.st.DB().QueryRow(`SELECT host_id, qid FROM detections WHERE type <> 'Info'
  GROUP BY host_id, qid HAVING count(*) > 1 ORDER BY qid LIMIT 1`).Scan(&host, &ports); err != nil {
			t.Fatalf("a QID on two ports of a host: %v", err)
		}
		if _, err := s.st.DB().Exec(`UPDATE detections SET priority = a.priority, urgency = a.urgency, due_date = a.due_date,
  status = a.status, closed = a.closed, vuln_score = a.vuln_score, breach_date = a.breach_date
  FROM (SELECT priority, urgency, due_date, status, closed, vuln_score, breach_date FROM detections
    WHERE host_id = ? AND qid = ? ORDER BY port LIMIT 1) AS a
  WHERE host_id = ? AND qid = ? AND port > (SELECT min(port) FROM detections WHERE host_id = ? AND qid = ?)`,
			host, ports, host, ports, host, ports); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Overview(ctx); err != nil {
			t.Fatal(err)
		}
		all := loadOracle(t, s.st.DB())
		for _, set := range []struct {
			filter string
			limits gatherLimits // no set is small: the walk reads them
			plan   string
		}{
			{fmt.Sprintf("qid=%d&limit=1&status=all", ports), gatherLimits{qidWalk: qidWalkMax}, "qids"},
			{fmt.Sprintf("qid=%d", splitQID), gatherLimits{qidWalk: qidWalkMax}, "qids"},
			{fmt.Sprintf("qid=%d", oneQID), gatherLimits{qidWalk: qidWalkMax}, "qids"},
			{fmt.Sprintf("qids=%d,%d", oneQID, splitQID), gatherLimits{qidWalk: qidWalkMax}, "qids"},
			{fmt.Sprintf("qids=%d,%d", oneQID, splitQID), gatherLimits{}, "index"},
		} {
			s.gatherMax = set.limits
			for _, dir := range []string{"asc", "desc"} {
				v, _ := url.ParseQuery("limit=3&sort=priority&dir=" + dir)
				w, _ := url.ParseQuery(set.filter)
				for k := range w {
					v.Set(k, w.Get(k))
				}
				q, err := ParseQuery(v)
				if err != nil {
					t.Fatal(err)
				}
				want := oracleList(all, q, s.now())
				for _, backwards := range []bool{false, true} {
					if got := pageKeys(t, s, q, true, backwards); !slices.Equal(got, want) {
						t.Errorf("%s (backwards %v): %d findings, want %d; first difference at %s", v.Encode(), backwards, len(got), len(want), firstDiff(got, want))
					}
				}
				tx, err := s.st.BeginRead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.findings(ctx, tx, q, true)
				tx.Rollback()
				if err != nil {
					t.Fatal(err)
				}
				if p.Plan != set.plan {
					t.Errorf("%s: read by plan %q, want %q", v.Encode(), p.Plan, set.plan)
				}
			}
		}
	})
}

// readGroup reads the findings of one urgency of a QID whose findings
// differ in urgency by their hosts' policies: those of the hosts of the
// policies asked for, every one, in order, whatever the size of the reads.
func TestQIDWalkGroupByPolicy(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s := policyServer(t, loc)
		policy := map[int64]int{}
		rows, err := s.st.DB().Query("SELECT id, policy FROM hosts")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var p int
			if err := rows.Scan(&id, &p); err != nil {
				t.Fatal(err)
			}
			policy[id] = p
		}
		rows.Close()
		// The open, prioritized findings of each (QID, priority), by the
		// policies of their hosts; the QID and priority with the most
		// findings on hosts of two policies.
		type qp struct {
			qid  int
			prio string
		}
		found := map[qp]map[int][]Cursor{}
		for _, r := range loadOracle(t, s.st.DB()) {
			if r.closed != "" || r.Priority == "" {
				continue
			}
			k := qp{r.QID, r.Priority}
			if found[k] == nil {
				found[k] = map[int][]Cursor{}
			}
			c := r.in("priority")
			c.Urgency = 0
			found[k][policy[r.HostID]] = append(found[k][policy[r.HostID]], c)
		}
		var best qp
		size := func(k qp) int {
			if len(found[k]) < 2 {
				return 0
			}
			n := 0
			for _, cs := range found[k] {
				n += len(cs)
			}
			return n
		}
		for k := range found {
			if size(k) > size(best) || size(k) == size(best) && (k.qid < best.qid || k.qid == best.qid && k.prio < best.prio) {
				best = k
			}
		}
		if size(best) < 6 {
			t.Fatalf("no QID has 6 findings of one priority on hosts of two policies: %v", best)
		}
		tx, err := s.st.BeginRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		f, err := s.resolve(ctx, tx, Query{}, s.now())
		if err != nil {
			t.Fatal(err)
		}
		for pol, want := range found[best] {
			slices.SortFunc(want, comparePriority)
			unit := []qidUnit{{qid: best.qid, policies: map[int]bool{pol: true}}}
			for _, n := range []int{1, 2, 100} {
				var got []Cursor
				for _, dated := range []bool{true, false} {
					var after *Cursor
					for {
						keys, err := readGroup(ctx, tx, f, unit, policy, best.prio, dated, false, after, n)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, keys...)
						if len(keys) < n {
							break
						}
						after = &keys[len(keys)-1]
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("QID %d, %s, policy %d, reads of %d: %d findings, want %d; first difference at %s", best.qid, best.prio, pol, n, len(got), len(want), firstDiff(got, want))
				}
			}
		}
	})
}

// The priority order filtered by rating walks each priority from the
// first urgency the overview saw that rating at to the last. A change
// of urgencies alone (a day's EPSS file: meta.order moves, meta.rev does
// not) must not leave the list walking the old ones.
func TestUrgencySpansFollowTheStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s, _ := newServerAt(t, loc, Config{})
		freshOverview(t, s)
		q, err := ParseQuery(url.Values{"rating": {"Low"}, "sort": {"priority"}, "limit": {"7"}})
		if err != nil {
			t.Fatal(err)
		}
		check := func(when string, spans bool) {
			t.Helper()
			want := oracleList(loadOracle(t, s.st.DB()), q, s.now())
			if len(want) < 15 {
				t.Fatalf("%s: %d Low findings: too few to cross pages", when, len(want))
			}
			// Walked, as a larger store's list is, forwards and back.
			for _, back := range []bool{false, true} {
				if got := pageKeys(t, s, q, true, back); !slices.Equal(got, want) {
					t.Errorf("%s (backwards %v): %d findings, want %d; first difference at %s", when, back, len(got), len(want), firstDiff(got, want))
				}
			}
			tx, err := s.st.BeginRead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			f, err := s.resolve(ctx, tx, q, s.now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.urgencyRange(ctx, tx, f); err != nil {
				t.Fatal(err)
			}
			if (f.spans != nil) != spans {
				t.Errorf("%s: the walk limited to the overview's urgencies: %v, want %v", when, f.spans != nil, spans)
			}
		}
		check("as imported", true)

		// What a rerating that moves only the order does: new urgencies,
		// meta.order bumped, meta.rev as it was.
		if _, err := s.st.DB().Exec("UPDATE detections SET urgency = urgency + 1000000000 WHERE vuln_score = 'Low'"); err != nil {
			t.Fatal(err)
		}
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.SetMeta("order", "moved by the test") }); err != nil {
			t.Fatal(err)
		}
		check("urgencies moved", false)
		freshOverview(t, s)
		check("overview built again", true)
	})
}
