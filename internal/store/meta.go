package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3/driver"

	"qvt/internal/version"
)

// The meta rows that say where a store comes from.
const (
	metaCreatedBy      = "created_by"      // "sync", "import", "demo"
	metaCreatedAt      = "created_at"      // RFC 3339
	metaCreatedVersion = "created_version" // qvt's version then
	metaQualysURL      = "qualys_api_url"
	metaQualysUser     = "qualys_username"
)

// Origin says who made a store, when, with which qvt.
type Origin struct {
	By      string // "sync", "import", "demo"; "" when unknown (a store made before qvt recorded it)
	At      time.Time
	Version string
}

func (o Origin) String() string {
	if o.By == "" {
		return "a store whose maker is not recorded"
	}
	return fmt.Sprintf("a store made by qvt %s on %s", o.By, o.At.Local().Format("2006-01-02 15:04"))
}

func (s *Store) recordOrigin(ctx context.Context, by string) error {
	rows := map[string]string{
		metaCreatedAt:      time.Now().UTC().Format(time.RFC3339),
		metaCreatedVersion: version.String(),
	}
	if by != "" {
		rows[metaCreatedBy] = by
	}
	for k, v := range rows {
		if err := s.setMeta(ctx, k, v); err != nil {
			return fmt.Errorf("store: %s: recording its origin: %w", s.path, err)
		}
	}
	return nil
}

// Origin reads who made the store.
func (s *Store) Origin(ctx context.Context) (Origin, error) {
	var o Origin
	var at string
	for k, p := range map[string]*string{metaCreatedBy: &o.By, metaCreatedAt: &at, metaCreatedVersion: &o.Version} {
		v, err := s.Meta(ctx, k)
		if err != nil {
			return Origin{}, fmt.Errorf("store: %s: %w", s.path, err)
		}
		*p = v
	}
	o.At, _ = time.Parse(time.RFC3339, at) // zero when absent
	return o, nil
}

// ReadOrigin reads who made the store at path without changing it (no
// schema upgrade): ErrNoStore when there is none. A file that is not a
// store says so.
func ReadOrigin(ctx context.Context, path string) (Origin, error) {
	if IsPostgres(path) {
		return readOriginPG(ctx, path)
	}
	exists, err := Exists(path)
	if err != nil {
		return Origin{}, err
	}
	if !exists {
		return Origin{}, fmt.Errorf("store: %s: %w", path, ErrNoStore)
	}
	db, err := driver.Open("file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=rw&_pragma=busy_timeout(5000)")
	if err != nil {
		return Origin{}, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	s := &Store{db: db, path: path}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'").Scan(&n); err != nil {
		return Origin{}, fmt.Errorf("store: %s is not a qvt store: %w", path, err)
	}
	if n == 0 {
		return Origin{}, fmt.Errorf("store: %s is an SQLite database but not a qvt store", path)
	}
	return s.Origin(ctx)
}

// readOriginPG is ReadOrigin on PostgreSQL: read-only, so that an older
// schema is read as it is, not upgraded.
func readOriginPG(ctx context.Context, loc string) (Origin, error) {
	var o Origin
	err := pgReadOnly(ctx, loc, func(tx pgx.Tx) error {
		var reg *string
		if err := tx.QueryRow(ctx, "SELECT to_regclass('meta')::text").Scan(&reg); err != nil {
			return fmt.Errorf("store: %s: %w", Shown(loc), err)
		}
		if reg == nil {
			return fmt.Errorf("store: %s: %w", Shown(loc), ErrNoStore)
		}
		rows, err := tx.Query(ctx, "SELECT name, value FROM meta WHERE name IN ($1, $2, $3)", metaCreatedBy, metaCreatedAt, metaCreatedVersion)
		if err != nil {
			return fmt.Errorf("store: %s: %w", Shown(loc), err)
		}
		defer rows.Close()
		n := 0
		var name, value, at string
		for rows.Next() {
			if err := rows.Scan(&name, &value); err != nil {
				return fmt.Errorf("store: %s: %w", Shown(loc), err)
			}
			n++
			switch name {
			case metaCreatedBy:
				o.By = value
			case metaCreatedAt:
				at = value
			case metaCreatedVersion:
				o.Version = value
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: %s: %w", Shown(loc), err)
		}
		if n == 0 {
			// An empty meta table is no store (pgHasStore).
			var some bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM meta)").Scan(&some); err != nil {
				return fmt.Errorf("store: %s: %w", Shown(loc), err)
			}
			if !some {
				return fmt.Errorf("store: %s: %w", Shown(loc), ErrNoStore)
			}
		}
		o.At, _ = time.Parse(time.RFC3339, at) // zero when absent
		return nil
	})
	return o, err
}

// Subscription is the Qualys subscription whose data fills a store: its
// API URL and user name (never the password).
type Subscription struct {
	APIURL   string
	Username string
}

// IsZero tells whether no subscription is recorded.
func (s Subscription) IsZero() bool { return s.APIURL == "" && s.Username == "" }

// Same tells whether two subscriptions are one: the same user at the same
// URL, whose scheme and host ignore case and a trailing slash.
func (s Subscription) Same(o Subscription) bool {
	return normalURL(s.APIURL) == normalURL(o.APIURL) && s.Username == o.Username
}

func (s Subscription) String() string { return fmt.Sprintf("user %s at %s", s.Username, s.APIURL) }

func normalURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String()
}

// Subscription reads the Qualys subscription recorded in the store; the
// zero value when none is (a new store, or one filled by imports only).
func (s *Store) Subscription(ctx context.Context) (Subscription, error) {
	var sub Subscription
	var err error
	if sub.APIURL, err = s.Meta(ctx, metaQualysURL); err != nil {
		return Subscription{}, fmt.Errorf("store: %s: %w", s.path, err)
	}
	if sub.Username, err = s.Meta(ctx, metaQualysUser); err != nil {
		return Subscription{}, fmt.Errorf("store: %s: %w", s.path, err)
	}
	return sub, nil
}

// SetSubscription records the Qualys subscription that fills the store.
func (s *Store) SetSubscription(ctx context.Context, sub Subscription) error {
	if err := s.setMeta(ctx, metaQualysURL, sub.APIURL); err != nil {
		return fmt.Errorf("store: %s: recording the subscription: %w", s.path, err)
	}
	if err := s.setMeta(ctx, metaQualysUser, sub.Username); err != nil {
		return fmt.Errorf("store: %s: recording the subscription: %w", s.path, err)
	}
	return nil
}

// HasHosts tells whether the store holds any host: whether a subscription
// has filled it yet.
func (s *Store) HasHosts(ctx context.Context) (bool, error) {
	// A bool: PostgreSQL's EXISTS is one, SQLite's an integer that
	// database/sql converts.
	var ok bool
	err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM hosts)").Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", s.path, err)
	}
	return ok, nil
}

func (s *Store) setMeta(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value)
	return err
}
