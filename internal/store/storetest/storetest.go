// Package storetest gives tests the stores to run on: a new SQLite file,
// and a new schema on the PostgreSQL server of the machine (127.0.0.1:5432,
// database test, QVT_TEST_POSTGRES to name another). Tests that touch the
// store run once per backend, so that both engines answer the same.
//
// Without a server the PostgreSQL cases skip, unless QVT_POSTGRES_REQUIRED
// is set (as CI sets it): then they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backend is an engine a test runs on.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// New returns the location of a new, empty store for the test (a file
	// path or a postgres:// URL), removed when the test ends.
	New func(t testing.TB) string
}

// Backends lists both engines.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", New: func(t testing.TB) string { return filepath.Join(t.TempDir(), "qvt.db") }},
		{Name: "postgres", New: Postgres},
	}
}

// Run runs fn as a subtest per backend.
func Run(t *testing.T, fn func(t *testing.T, loc string)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.New(t)) })
	}
}

// Each runs fn as a subtest per backend, with the backend, for tests that
// open their stores themselves.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// ServerURL is the PostgreSQL server the tests use.
func ServerURL() string {
	if u := os.Getenv("QVT_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var (
	reachOnce sync.Once
	reachErr  error
)

// Postgres returns the URL of a new, empty schema on the test server,
// dropped when the test ends. It skips the test (fails it, with
// QVT_POSTGRES_REQUIRED) when there is no server.
func Postgres(t testing.TB) string {
	t.Helper()
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, ServerURL())
		if err == nil {
			c.Close(ctx)
		}
		reachErr = err
	})
	if reachErr != nil {
		if os.Getenv("QVT_POSTGRES_REQUIRED") != "" {
			t.Fatalf("PostgreSQL: %v (QVT_POSTGRES_REQUIRED is set)", reachErr)
		}
		t.Skipf("no PostgreSQL server: %v", reachErr)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "qvt_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
