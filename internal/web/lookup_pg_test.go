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
		if p := genericPlan(t, ctx, st, c.q, c.args); strings.Contains(p, "Seq Scan") {
			t.Errorf("%s reads the whole table:\n%s", c.what, p)
		}
		n := 0
		rows, err := st.DB().QueryContext(ctx, c.q, c.args...)
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

// genericPlan is the plan PostgreSQL makes for q without its parameters'
// values: the plan it keeps for a statement the driver prepared once it
// has run it a few times.
func genericPlan(t *testing.T, ctx context.Context, st *store.Store, q string, args []any) string {
	t.Helper()
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	types := map[int]string{}
	for i, a := range args {
		types[i] = "text"
		if _, ok := a.(int64); ok {
			types[i] = "bigint"
		}
	}
	// EXECUTE takes no parameters: the values are literals.
	var decl, params []string
	for i, a := range args {
		decl = append(decl, types[i])
		if n, ok := a.(int64); ok {
			params = append(params, fmt.Sprint(n))
		} else {
			params = append(params, "'"+strings.ReplaceAll(fmt.Sprint(a), "'", "''")+"'")
		}
	}
	prepare := "PREPARE qvt_plan AS " + q
	execute := "EXPLAIN EXECUTE qvt_plan"
	if len(args) > 0 {
		prepare = "PREPARE qvt_plan(" + strings.Join(decl, ", ") + ") AS " + q
		execute += "(" + strings.Join(params, ", ") + ")"
	}
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", prepare} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	defer conn.ExecContext(ctx, "DEALLOCATE qvt_plan; RESET plan_cache_mode")
	rows, err := conn.QueryContext(ctx, execute)
	if err != nil {
		t.Fatalf("%s: %v", execute, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	return strings.Join(plan, "\n")
}
