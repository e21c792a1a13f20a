// Package mysqltest gives tests a database of their own on a real MySQL
// or MariaDB server: QVT_MYSQL_TEST_DSN, else root without a password on
// 127.0.0.1:3306. Without a server the tests skip, unless
// QVT_MYSQL_REQUIRED is set (CI sets it, so that a missing server fails).
package mysqltest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Reach returns the test server's configuration, and false when nothing
// listens there (a failure of the test with QVT_MYSQL_REQUIRED).
func Reach(t testing.TB) (*mysql.Config, bool) {
	t.Helper()
	base := os.Getenv("QVT_MYSQL_TEST_DSN")
	if base == "" {
		base = "root@tcp(127.0.0.1:3306)/test"
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("QVT_MYSQL_TEST_DSN: %v", err)
	}
	if cfg.Net != "tcp" {
		return cfg, true // a socket: the first query says
	}
	c, err := net.DialTimeout("tcp", cfg.Addr, 2*time.Second)
	if err != nil {
		if os.Getenv("QVT_MYSQL_REQUIRED") != "" {
			t.Fatalf("MySQL/MariaDB is not reachable at %s: %v (QVT_MYSQL_REQUIRED is set)", cfg.Addr, err)
		}
		t.Logf("MySQL/MariaDB is not reachable at %s (%v); start MariaDB or set QVT_MYSQL_TEST_DSN", cfg.Addr, err)
		return nil, false
	}
	c.Close()
	return cfg, true
}

// Server is Reach that skips the test when there is no server.
func Server(t testing.TB) *mysql.Config {
	t.Helper()
	cfg, ok := Reach(t)
	if !ok {
		t.Skip("no MySQL/MariaDB server: skipping")
	}
	return cfg
}

// Admin is a connection to the server as the configured user, closed when
// the test ends.
func Admin(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return admin
}

// Name is a database (or user) name for the test: prefix, the process and
// a random part, so that parallel test binaries never meet.
func Name(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
}

// Database creates a database named from prefix, dropped when the test
// ends (kept with QVT_MYSQL_TEST_KEEP, for a look at what a test left),
// and returns its DSN. It skips without a server.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	cfg := Server(t)
	admin := Admin(t, cfg)
	name := Name(prefix)
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("QVT_MYSQL_TEST_KEEP") != "" {
			t.Logf("kept database %s (QVT_MYSQL_TEST_KEEP)", name)
			return
		}
		if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}
