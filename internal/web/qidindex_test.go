package web

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A QID set (a QID, a CVE, a title search) small enough to sort is read
// from detections_qid alone, in every order and under the list's common
// filters: a lookup of each of its thousands of findings in the table
// made a title of 128 QIDs in priority order take 100-166 ms at a million
// findings (migration 00014). SQLite says in its plan whether an index
// covers a query; the filters that read columns of their own (an owner,
// an exception) are not among these.
func TestQIDSetsReadFromTheIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := newServerAt(t, filepath.Join(t.TempDir(), "qvt.db"), Config{})
	var qid int
	var title string
	err := s.st.DB().QueryRow(`SELECT d.qid, k.title FROM detections d JOIN kb_vulns k ON k.qid = d.qid
WHERE d.type <> 'Info' GROUP BY d.qid ORDER BY count(*) DESC, d.qid LIMIT 1`).Scan(&qid, &title)
	if err != nil {
		t.Fatal(err)
	}
	word := strings.Fields(title)[0]
	tx, err := s.st.BeginRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, filter := range []string{"", "status=all", "status=closed", "status=Active", "rating=High", "due=overdue", "due=week",
		"priority=P2,P3", "kev=1", "min_epss=0.1"} {
		for _, set := range []string{"qid=" + strconv.Itoa(qid), "q=" + url.QueryEscape(word)} {
			v, _ := url.ParseQuery(filter + "&" + set)
			q, err := ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			f, err := s.resolve(ctx, tx, q, s.now())
			if err != nil {
				t.Fatal(err)
			}
			check := func(what, query string, args []any) {
				plan := explainSQLite(t, tx, query, args)
				if !strings.Contains(plan, "USING COVERING INDEX detections_qid") {
					t.Errorf("%s %s, %s, reads the table:\n%s\n%s", filter, set, what, query, plan)
				}
			}
			query, args := qidSetSQL(f)
			check("sort=priority", query, args)
			// The other orders read a page from the set, after a cursor
			// or not, either way.
			from := &Cursor{Rating: "High", Deadline: "2026-01-01", HostID: 1, QID: qid, Port: 443}
			for _, sort := range sortChoices[:3] {
				for _, desc := range []bool{false, true} {
					for _, after := range []*Cursor{nil, from} {
						query, args := gatherSQL(f, fromQIDs, sort, desc, after, 100)
						check("sort="+sort+" desc="+strconv.FormatBool(desc)+" after="+strconv.FormatBool(after != nil), query, args)
					}
				}
			}
		}
	}
}

// explainSQLite is SQLite's plan of a query, a line a step.
func explainSQLite(t *testing.T, tx *sql.Tx, query string, args []any) string {
	t.Helper()
	rows, err := tx.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
