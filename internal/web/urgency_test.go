package web

import (
	"context"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/environment"
	"qvt/internal/load"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The list sorts a QID set in the priority order by urgencies it computes
// from the QIDs' risk and scores and the hosts' environment policies
// (setUrgencies), not read from each finding: each must be the one the
// store holds, which the walk of detections_priority orders by. Checked
// for every finding of a store whose hosts are scored under two
// environment policies, so that one QID's findings differ in urgency.
func TestListUrgencyMatchesStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s, _ := newServerAt(t, loc, Config{})
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
		urgency, err := setUrgencies(ctx, tx, s.sql, keys)
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
	})
}
