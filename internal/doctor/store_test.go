package doctor

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// A PostgreSQL store: no store yet is a warning that says what to run;
// a store is its server's version, schema and size, its URL shown without
// the password, and whether the server vacuums on its own; a server that does not answer is a failure.
func TestPostgresStore(t *testing.T) {
	ctx := context.Background()
	loc := strings.Replace(storetest.Postgres(t), "postgres@", "postgres:doctor-pw-123@", 1)
	checks := Store(ctx, loc, time.Now())
	if len(checks) != 1 || checks[0].Level != Warn || !strings.Contains(checks[0].Message, "no store at "+store.Shown(loc)) {
		t.Fatalf("no store yet: %+v", checks)
	}
	st, err := store.OpenWith(ctx, loc, store.Options{Create: true, Maker: "import", Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	checks = Store(ctx, loc, time.Now())
	first := checks[0]
	if first.Level != OK || !strings.HasPrefix(first.Message, store.Shown(loc)+": PostgreSQL 1") || !strings.Contains(first.Message, "schema ") {
		t.Errorf("a store: %+v", first)
	}
	conn, err := pgx.Connect(ctx, storetest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	var av string
	err = conn.QueryRow(ctx, "SHOW autovacuum").Scan(&av)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantAV := autovacuum(av == "on")
	if !slices.ContainsFunc(checks, func(c Check) bool { return c == wantAV }) {
		t.Errorf("the server's autovacuum is %s, and the checks do not say it: %+v", av, checks)
	}
	down := strings.Replace(loc, "127.0.0.1:5432", "127.0.0.1:1", 1)
	checks = Store(ctx, down, time.Now())
	if len(checks) != 1 || checks[0].Level != Fail {
		t.Errorf("no server: %+v", checks)
	}
	for _, c := range append(Store(ctx, loc, time.Now()), checks...) {
		if strings.Contains(c.Message+c.Fix, "doctor-pw-123") {
			t.Errorf("a check shows the password: %+v", c)
		}
	}
}

// A server with autovacuum off is a warning that says how to turn it on;
// on is a plain fact.
func TestAutovacuumCheck(t *testing.T) {
	if c := autovacuum(true); c.Level != OK || c.Message != "autovacuum is on" {
		t.Errorf("on: %+v", c)
	}
	if c := autovacuum(false); c.Level != Warn || !strings.Contains(c.Message, "autovacuum is off") || !strings.Contains(c.Fix, "ALTER SYSTEM SET autovacuum = on") {
		t.Errorf("off: %+v", c)
	}
}
