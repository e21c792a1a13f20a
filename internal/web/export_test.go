package web

import (
	"testing"
	"time"
)

// Test helpers for the tests of package web_test, which use qvt's
// commands too (package app imports web).

// FixturePath is the path of the fixture store, built once; tests read it
// and must not change it.
func FixturePath(t testing.TB) string {
	t.Helper()
	fixtureStore(t)
	return fixturePath
}

// NewFixtureServer serves a copy of the fixture store at the fixture's now.
func NewFixtureServer(t testing.TB) (*Server, string, time.Time) {
	t.Helper()
	s, hs := newTestServer(t, Config{})
	return s, hs.URL, s.now()
}

// NewFixtureServerAt serves the fixture built at a new store location
// (storetest: an SQLite path or a PostgreSQL URL) at the fixture's now.
func NewFixtureServerAt(t testing.TB, loc string) (*Server, string, time.Time) {
	t.Helper()
	s, hs := newServerAt(t, loc, Config{})
	return s, hs.URL, s.now()
}
