package priority

import (
	"slices"
	"strconv"
	"strings"
)

// Cause is the one-line why of a change of a finding's priority or due
// date, for its history ("added to KEV 2025-03-01: P3 → P1" once the
// caller adds the change): "added to KEV 2025-03-01", "left KEV",
// "EPSS 0.23", "threat intel Active_Attacks", "QDS 95", "rating High",
// "breach date 2025-02-09" or "rules changed".
//
// It knows the old result and the new evidence, not the old evidence nor
// the rules, so it reads the change against the levels of the default
// rules: a rise is explained by the evidence of the level the finding
// reached (KEV for P1; threat intel, EPSS or QDS for P2; the rating for
// P3), a fall by the evidence of the level it left. When that evidence
// is not there, or one rule now gives another priority, the rules changed.
func Cause(oldPriority, oldReason string, in Input, r Result) string {
	newRank, oldRank := Rank(r.Priority), Rank(oldPriority)
	switch {
	case oldPriority == r.Priority && oldReason != r.Reason:
		// Same priority from another rule: only the rules say so.
		return "rules changed"
	case oldPriority == r.Priority:
		return dueCause(in, r)
	case oldReason == r.Reason && oldReason != "":
		// Evidence moves a finding between rules; one rule giving
		// another priority is an edit of the rules.
		return "rules changed"
	case newRank < oldRank: // more urgent, or prioritized for the first time
		if c := riseCause(newRank, &in); c != "" {
			return c
		}
	default:
		if c := fallCause(oldRank, &in); c != "" {
			return c
		}
	}
	return "rules changed"
}

// riseCause is the evidence that puts in at level rank of the default
// rules, "" when it has none.
func riseCause(rank int, in *Input) string {
	if in.KEV {
		// KEV outranks everything else: whatever level the rules gave,
		// the new catalog is the likeliest news.
		return addedToKEV(in)
	}
	switch rank {
	case 0, 1: // a P1 without KEV comes from rules of the P2 kind
		for _, n := range in.ThreatIntel {
			if slices.ContainsFunc(ExploitedThreatIntel, func(x string) bool { return strings.EqualFold(x, n) }) {
				return "threat intel " + n
			}
		}
		switch {
		case in.EPSS != nil && *in.EPSS >= 0.1:
			return "EPSS " + formatScore(*in.EPSS)
		case in.QDS != nil && *in.QDS >= 90:
			return "QDS " + strconv.Itoa(*in.QDS)
		case len(in.ThreatIntel) > 0:
			return "threat intel " + in.ThreatIntel[0]
		case in.EPSS != nil:
			return "EPSS " + formatScore(*in.EPSS)
		case in.QDS != nil:
			return "QDS " + strconv.Itoa(*in.QDS)
		}
		return ""
	case 2:
		if in.Rating != "" {
			return "rating " + in.Rating
		}
	}
	return ""
}

// fallCause is the evidence in no longer has for level rank of the
// default rules: its value now.
func fallCause(rank int, in *Input) string {
	switch rank {
	case 0:
		if !in.KEV {
			return "left KEV"
		}
	case 1:
		// EPSS changes every day, QDS at each scan, the KB's threat
		// intel seldom: the likeliest first.
		switch {
		case in.EPSS != nil:
			return "EPSS " + formatScore(*in.EPSS)
		case in.QDS != nil:
			return "QDS " + strconv.Itoa(*in.QDS)
		case len(in.ThreatIntel) > 0:
			return "threat intel " + strings.Join(in.ThreatIntel, ", ")
		}
		return "no threat intel"
	case 2:
		if in.Rating != "" {
			return "rating " + in.Rating
		}
	}
	return ""
}

// dueCause explains a new due date under the same priority and rule.
func dueCause(in Input, r Result) string {
	switch {
	case r.DueDate != "" && r.DueDate == in.BreachDate:
		return "breach date " + in.BreachDate
	case in.KEV && r.DueDate != "" && in.KEVDateAdded != "":
		return addedToKEV(&in) // the KEV clock moved: its entry was edited
	}
	return "rules changed"
}

func addedToKEV(in *Input) string {
	if in.KEVDateAdded == "" {
		return "added to KEV"
	}
	return "added to KEV " + in.KEVDateAdded
}
