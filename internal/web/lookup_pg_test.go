package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// On PostgreSQL the host and tag filters and the dashboard's check for a
// changed store find their hosts through indexes (migration 00013): each
// read every host before, 100-300 ms a request at 250,000 hosts, most of
// the time of most list requests there.
func TestPGHostLookupsUseIndexes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var hs []store.HostRecord
	for id := int64(1); id <= 5000; id++ {
		hs = append(hs, store.HostRecord{Host: &qualys.Host{ID: id, IP: fmt.Sprintf("10.%d.%d.%d", id>>16, id>>8&255, id&255),
			DNS: fmt.Sprintf("web-%d.corp.example.com", id), FQDN: fmt.Sprintf("web-%d.corp.example.com", id),
			NetBIOS: fmt.Sprintf("WEB%d", id), Tags: []qualys.Tag{{ID: id % 50, Name: fmt.Sprintf("Zone %d", id%50)}}}})
	}
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.PutHosts(hs, 1_700_000_000) }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, "ANALYZE hosts, host_tags"); err != nil {
		t.Fatal(err)
	}
	d := newDialect("postgres")
	for _, c := range []struct {
		what, q string
		args    []any
		want    int
	}{
		{"a host by name", hostQuery(d), []any{int64(-1), "WEB-77.corp.example.com", `WEB-77.corp.example.com.%`}, 1},
		{"a host by short name", hostQuery(d), []any{int64(-1), "Web-77", `Web-77.%`}, 1},
		{"a host by id", hostQuery(d), []any{int64(77), "77", `77.%`}, 1},
		{"a tag's hosts", "SELECT DISTINCT host_id FROM host_tags WHERE " + d.equalFold("name", "?1") + " ORDER BY host_id", []any{"zone 7"}, 100},
		{"the hosts' newest data", "SELECT max(seen) FROM hosts", nil, 1},
	} {
		var plan []string
		rows, err := st.DB().QueryContext(ctx, "EXPLAIN "+c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan = append(plan, line)
		}
		rows.Close()
		if p := strings.Join(plan, "\n"); fullScan(p) {
			t.Errorf("%s reads the whole table:\n%s", c.what, p)
		}
		n := 0
		rows, err = st.DB().QueryContext(ctx, c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		for rows.Next() {
			n++
		}
		rows.Close()
		if n != c.want {
			t.Errorf("%s: %d rows, want %d", c.what, n, c.want)
		}
	}
}

// fullScan tells whether a plan (EXPLAIN's text) reads a table or an
// index whole: a scan with no condition that bounds it.
func fullScan(plan string) bool {
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if !strings.Contains(l, " Scan ") && !strings.HasPrefix(strings.TrimLeft(l, " ->"), "Seq Scan") {
			continue
		}
		bounded := false
		for _, detail := range lines[i+1:] {
			if strings.Contains(detail, "->") {
				break // the next node
			}
			if strings.Contains(detail, "Index Cond:") || strings.Contains(detail, "Recheck Cond:") {
				bounded = true
			}
		}
		if !bounded {
			return true
		}
	}
	return false
}
