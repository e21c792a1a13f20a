package doctor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"qvt/internal/config"
	"qvt/internal/store"
)

// Ownership reports on the owners and exceptions, read-only: findings no
// rule owns when there is no default owner, rules that own nothing,
// and the active exceptions, those about to expire and those past their
// last day that no write has recorded yet.
func Ownership(ctx context.Context, cfg *config.Config, now time.Time) []Check {
	ok0, err := store.Exists(cfg.DB)
	if !store.IsPostgres(cfg.DB) && (err != nil || !ok0) {
		return nil // the store check has said so
	}
	today := now.UTC().Format(time.DateOnly)
	f, err := store.ReadOwnership(ctx, cfg.DB, today)
	switch {
	case errors.Is(err, store.ErrNoStore), errors.Is(err, store.ErrOldSchema):
		return nil // the store check has said so
	case err != nil:
		return []Check{fail("owners", "check that the store is readable", "owners and exceptions: %v", err)}
	}
	var checks []Check
	if len(cfg.Owners) == 0 {
		checks = append(checks, ok("owners", "no ownership rules (owners:): findings have no owner"))
	} else {
		open := map[string]int{}
		for _, o := range f.Owners {
			open[strings.ToLower(o.Owner)] = o.Open
		}
		if n := open[""]; n > 0 && cfg.Owners.Default() == "" {
			checks = append(checks, warn("owners", "add an owner with default: true, or rules that match them",
				"%d open findings match no ownership rule, and no owner is the default", n))
		}
		var idle []string
		for _, r := range cfg.Owners {
			if !r.Default && open[strings.ToLower(r.Name)] == 0 {
				idle = append(idle, r.Name)
			}
		}
		if len(idle) > 0 {
			checks = append(checks, warn("owners", "check their tags, cidrs, hostnames and os patterns against the hosts",
				"%d owners have no open finding: %s", len(idle), strings.Join(idle, ", ")))
		}
		checks = append(checks, ok("owners", "%d ownership rules; %d owners hold open findings", len(cfg.Owners), countOwned(f.Owners)))
	}
	warnBy := now.UTC().AddDate(0, 0, cfg.Exceptions.WithDefaults().WarnDays).Format(time.DateOnly)
	var soon, past []string
	for _, e := range f.Exceptions {
		switch {
		case e.Until != "" && e.Until < today:
			past = append(past, e.Name())
		case e.Until != "" && e.Until <= warnBy:
			soon = append(soon, e.Name()+" ("+e.Until+")")
		}
	}
	slices.Sort(past)
	if len(past) > 0 {
		checks = append(checks, ok("exceptions", "%s past their last day: their findings count again, and the next write records it", strings.Join(past, ", ")))
	}
	if len(soon) > 0 {
		checks = append(checks, warn("exceptions", "extend them (qvt except extend) or let the findings come back",
			"%d exceptions expire within %d days: %s", len(soon), cfg.Exceptions.WithDefaults().WarnDays, strings.Join(soon, ", ")))
	}
	checks = append(checks, ok("exceptions", "%d active exceptions", len(f.Exceptions)-len(past)))
	return checks
}

func countOwned(os []store.OwnerStats) int {
	n := 0
	for _, o := range os {
		if o.Owner != "" && o.Open > 0 {
			n++
		}
	}
	return n
}
