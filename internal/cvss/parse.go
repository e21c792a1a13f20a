package cvss

import (
	"errors"
	"fmt"
	"strings"
)

// vector is a parsed, validated vector: one value per metric of its spec,
// "" where the vector does not give the metric.
type vector struct {
	spec *spec
	vals []string
}

// parse splits a vector string into its metrics and validates them against
// the version's table. It is lenient where real data is sloppy (metric
// order, explicit X/ND, partial v2 groups, surrounding blanks and
// parentheses) and strict where a guess would change a score (unknown
// metrics, bad values, duplicates, missing base metrics). Errors do not name
// the vector; the exported functions add it.
func parse(raw string) (vector, error) {
	s := strings.TrimSpace(raw)
	// NVD's legacy feeds and some scanners print v2 vectors as "(AV:N/...)".
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return vector{}, errors.New("empty vector")
	}

	var sp *spec
	switch {
	case strings.HasPrefix(s, "CVSS:2.0/"):
		sp, s = spec20, s[len("CVSS:2.0/"):]
	case strings.HasPrefix(s, spec30.header):
		sp, s = spec30, s[len(spec30.header):]
	case strings.HasPrefix(s, spec31.header):
		sp, s = spec31, s[len(spec31.header):]
	case strings.HasPrefix(s, spec40.header):
		sp, s = spec40, s[len(spec40.header):]
	case strings.HasPrefix(s, "CVSS:"):
		ver, _, found := strings.Cut(s[len("CVSS:"):], "/")
		switch ver {
		case "2.0", "3.0", "3.1", "4.0":
			if !found {
				return vector{}, errors.New("no metrics")
			}
		}
		return vector{}, fmt.Errorf("unsupported CVSS version %q", ver)
	default:
		// v2 vectors carry no header.
		sp = spec20
	}

	v := vector{spec: sp, vals: make([]string, len(sp.metrics))}
	for part := range strings.SplitSeq(s, "/") {
		if part == "" {
			return vector{}, errors.New("empty metric")
		}
		abbr, value, ok := strings.Cut(part, ":")
		if !ok {
			return vector{}, fmt.Errorf("metric %q has no value", part)
		}
		i, known := sp.index[abbr]
		if !known {
			return vector{}, fmt.Errorf("unknown CVSS %s metric %q", sp.version, abbr)
		}
		if v.vals[i] != "" {
			return vector{}, fmt.Errorf("metric %s given twice", abbr)
		}
		if _, ok := sp.valueName(i, value); !ok {
			return vector{}, fmt.Errorf("invalid value %q for metric %s (want one of %s)", value, abbr, sp.allowed(i))
		}
		v.vals[i] = value
	}
	var missing []string
	for i, m := range sp.metrics {
		if m.group == groupBase && v.vals[i] == "" {
			missing = append(missing, m.abbr)
		}
	}
	if len(missing) > 0 {
		return vector{}, fmt.Errorf("missing base metric %s", strings.Join(missing, ", "))
	}
	return v, nil
}

// override sets the environmental metrics of env over those of the vector.
// Metrics the version does not have are ignored, so one policy can serve
// every version (CDP only touches v2, MAV only v3/v4). Only the
// environmental group may be overridden: a policy describes the host's
// environment, and letting it rewrite base or temporal metrics would
// silently change scores that must stay those of the vector.
func (v vector) override(env map[string]string) error {
	for abbr, value := range env {
		i, known := v.spec.index[abbr]
		if !known {
			continue
		}
		if v.spec.metrics[i].group != groupEnvironmental {
			return fmt.Errorf("override %s:%s: %s is a %s metric, not an environmental one",
				abbr, value, abbr, strings.ToLower(v.spec.metrics[i].group))
		}
		if _, ok := v.spec.valueName(i, value); !ok {
			return fmt.Errorf("override %s:%s: invalid value %q for metric %s (want one of %s)",
				abbr, value, value, abbr, v.spec.allowed(i))
		}
		v.vals[i] = value
	}
	return nil
}

// canonical rebuilds the vector in the form go-cvss parses: its version
// header, metrics in specification order, only the groups for which keep
// is true. go-cvss's v2 parser wants each optional group whole, so a v2
// group given in part is completed with ND, which is what a missing metric
// means anyway.
func (v vector) canonical(keep func(group string) bool) string {
	var b strings.Builder
	b.Grow(160)
	b.WriteString(v.spec.header)
	isV2 := v.spec == spec20
	first := true
	for i, m := range v.spec.metrics {
		if !keep(m.group) {
			continue
		}
		value := v.vals[i]
		if value == "" {
			if !isV2 || m.group == groupBase || !v.hasGroup(m.group) {
				continue
			}
			value = v.spec.notDefined
		}
		if !first {
			b.WriteByte('/')
		}
		first = false
		b.WriteString(m.abbr)
		b.WriteByte(':')
		b.WriteString(value)
	}
	return b.String()
}

// hasGroup reports whether the vector gives any metric of group.
func (v vector) hasGroup(group string) bool {
	for i, m := range v.spec.metrics {
		if m.group == group && v.vals[i] != "" {
			return true
		}
	}
	return false
}

// Group filters for canonical.
func all(string) bool          { return true }
func baseOnly(g string) bool   { return g == groupBase }
func baseThreat(g string) bool { return g == groupBase || g == groupThreat }
