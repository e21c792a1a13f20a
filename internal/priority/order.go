package priority

import (
	"cmp"
	"math"

	"qvt/internal/finding"
)

// Compare orders findings "most urgent first" (the dashboard's default,
// qvt export --sort priority, Jira's rank): priority (P1 first, none
// last), then KEV (true first), then EPSS (highest first, null last),
// then env_score (highest first, null last), then due_date (earliest
// first, "" last), then key. It is a total order: only equal keys tie.
func Compare(a, b *finding.Finding) int {
	if c := cmp.Compare(Rank(a.Priority), Rank(b.Priority)); c != 0 {
		return c
	}
	if a.KEV != b.KEV {
		if a.KEV {
			return -1
		}
		return 1
	}
	if c := descNullsLast(a.EPSS, b.EPSS); c != 0 {
		return c
	}
	if c := descNullsLast(a.EnvScore, b.EnvScore); c != 0 {
		return c
	}
	if a.DueDate != b.DueDate {
		switch {
		case a.DueDate == "":
			return 1
		case b.DueDate == "":
			return -1
		}
		return cmp.Compare(a.DueDate, b.DueDate)
	}
	return cmp.Compare(a.Key, b.Key)
}

// descNullsLast orders the highest first and nil last.
func descNullsLast(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*b, *a)
}

// Urgency packs a finding's KEV flag, EPSS and env_score into one number
// that, sorted descending, orders as Compare's KEV, EPSS and env_score
// steps do, so that a store can keep it in an index column: decimal
// digits kev·10¹² + (epss·10⁵+1)·10⁴ + (env·100+1), a null being 0 in
// its place. EPSS is kept to five decimals as the file writes it, scores
// to two (CVSS writes one), so values at those precisions order exactly;
// values out of range are clamped. 0 is none of them.
func Urgency(kev bool, epss, env *float64) int64 {
	var u int64
	if kev {
		u = 1_000_000_000_000
	}
	if epss != nil {
		u += (quantize(*epss, 1e5, 100_000) + 1) * 10_000
	}
	if env != nil {
		u += quantize(*env, 100, 1000) + 1
	}
	return u
}

// quantize is round(v·scale) clamped to 0…most (NaN is 0).
func quantize(v, scale float64, most int64) int64 {
	x := math.Round(v * scale)
	switch {
	case !(x > 0):
		return 0
	case x > float64(most):
		return most
	}
	return int64(x)
}
