package web

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"qvt/internal/finding"
	"qvt/internal/store"
)

// The owners page: each owner's open findings by priority (by rating
// before priorities exist), overdue, excepted, and how it fixes, each
// with a link to its list.

// OwnerRow is one owner as the page and the API show it.
type OwnerRow struct {
	Owner       string   `json:"owner"` // "" for the findings no rule owns
	Hosts       int      `json:"hosts"`
	Open        int      `json:"open"` // excepted ones included
	ByPriority  []Count  `json:"by_priority"`
	ByRating    []Count  `json:"by_rating"`
	Overdue     int      `json:"overdue"`  // open, not excepted, past the deadline
	PastDue     int      `json:"past_due"` // open, not excepted, past the due date
	DueSoon     int      `json:"due_soon"`
	Excepted    int      `json:"excepted"`
	Fixed       int      `json:"fixed"`               // fixed, with a fix time
	FixedInTime int      `json:"fixed_in_time"`       // of those, by their deadline
	Share       *float64 `json:"fixed_in_time_share"` // null when none is fixed
	MeanDays    *float64 `json:"mean_days_to_fix"`    // null when none is fixed
	List        string   `json:"list"`                // its findings list
}

// ownerURL is an owner's list of findings ("" is the unowned).
func ownerURL(owner string) string {
	if owner == "" {
		owner = "none"
	}
	return "/findings?" + url.Values{"owner": {owner}}.Encode()
}

func (s *Server) owners(r *http.Request) ([]OwnerRow, bool, error) {
	stats, err := s.st.OwnerSummary(r.Context(), s.today())
	if err != nil {
		return nil, false, err
	}
	// By priority once any finding has one; by rating before.
	prioritized := slices.ContainsFunc(stats, func(o store.OwnerStats) bool {
		for p, n := range o.ByPriority {
			if p != "" && n > 0 {
				return true
			}
		}
		return false
	})
	out := []OwnerRow{}
	for _, o := range stats {
		row := OwnerRow{Owner: o.Owner, Hosts: o.Hosts, Open: o.Open, Overdue: o.Overdue, PastDue: o.PastDue, DueSoon: o.DueSoon,
			Excepted: o.Excepted, Fixed: o.Fixed, FixedInTime: o.FixedInTime, List: ownerURL(o.Owner),
			ByPriority: []Count{}, ByRating: []Count{}}
		for _, p := range finding.Priorities {
			row.ByPriority = append(row.ByPriority, Count{p, o.ByPriority[p]})
		}
		if n := o.ByPriority[""]; n > 0 {
			row.ByPriority = append(row.ByPriority, Count{"none", n})
		}
		for _, r := range ratingOrder[:5] {
			row.ByRating = append(row.ByRating, Count{r, o.ByRating[r]})
		}
		if share, ok := o.FixedInTimeShare(); ok {
			mean := o.MeanDaysToFix
			row.Share, row.MeanDays = &share, &mean
		}
		out = append(out, row)
	}
	return out, prioritized, nil
}

func (s *Server) ownersPage(w http.ResponseWriter, r *http.Request) error {
	rows, prioritized, err := s.owners(r)
	if err != nil {
		return err
	}
	cols := finding.Priorities
	if !prioritized {
		cols = ratingOrder[:5]
	}
	return s.render(w, "owners", map[string]any{"Title": "Owners", "Rows": rows, "ByPriority": prioritized, "Cols": cols})
}

func (s *Server) apiOwners(w http.ResponseWriter, r *http.Request) error {
	rows, prioritized, err := s.owners(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"owners": rows, "prioritized": prioritized})
	return nil
}

// ownerNames lists the owners findings have, ascending ("" for none), by
// skipping from one to the next in detections_owner: a seek per owner.
func ownerNames(ctx context.Context, tx *sql.Tx, d dialect) ([]string, error) {
	var out []string
	for {
		q := "SELECT min(owner) FROM detections" + d.indexed("detections_owner")
		var args []any
		if len(out) > 0 {
			q += " WHERE owner > ?"
			args = append(args, out[len(out)-1])
		}
		var o sql.NullString
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&o); err != nil {
			return nil, fmt.Errorf("owners: %w", err)
		}
		if !o.Valid {
			return out, nil
		}
		out = append(out, o.String)
	}
}
