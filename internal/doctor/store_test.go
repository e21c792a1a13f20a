package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// A PostgreSQL store: no store yet is a warning that says what to run;
// a store is its server's version, schema and size, its URL shown without
// the password; a server that does not answer is a failure.
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
