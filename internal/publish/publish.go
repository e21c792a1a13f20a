// Package publish holds what every tracking target shares: the Target
// interface that the MySQL, Jira and Jira Assets publishers implement
// (each in its own package below this one), their options and their
// report. A target reads findings and their history from the store and
// keeps its own watermark and mappings there, so a failed or interrupted
// publish resumes without duplicates.
package publish

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"qvt/internal/store"
)

// Target is a place findings are published to.
type Target interface {
	// Name is the target's name in --to and in the store's publish
	// tables: "mysql", "jira" or "assets".
	Name() string
	// Publish pushes what changed since the target's last successful
	// publish (everything the first time).
	Publish(ctx context.Context, st *store.Store, opt Options) (Report, error)
}

// Options are the run's options, common to all targets.
type Options struct {
	DryRun bool         // plan and print, change nothing (neither the target nor the store)
	Out    io.Writer    // where a dry run's plan and the report go
	Log    *slog.Logger // progress and retries
	Now    func() time.Time
}

// Report counts what a publish did (or, in a dry run, would do).
type Report struct {
	Target    string
	Created   int
	Updated   int
	Closed    int
	Reopened  int
	Unchanged int
	Failed    int
	Notes     []string // one line each: what the user should know (skipped items, truncations, limits hit)
}

func (r Report) String() string {
	s := fmt.Sprintf("%s: %d created, %d updated, %d closed, %d reopened, %d unchanged", r.Target, r.Created, r.Updated, r.Closed, r.Reopened, r.Unchanged)
	if r.Failed > 0 {
		s += fmt.Sprintf(", %d failed", r.Failed)
	}
	if len(r.Notes) > 0 {
		s += "\n  " + strings.Join(r.Notes, "\n  ")
	}
	return s
}
