// Package cvss scores CVSS vectors of versions 2.0, 3.0, 3.1 and 4.0 for
// qvt's findings (docs: findings.md, "Scoring policy").
//
// The CVSS math is not done here: it is github.com/pandatix/go-cvss (a
// patched copy, see third_party/go-cvss/PATCHES.md). This package adds what
// qvt needs around it: lenient parsing of the vectors found in Qualys and
// NVD data (any metric order, explicit X/ND, partial v2 groups), the
// environment-policy overrides, base/temporal/environmental scores for every
// version (v4.0 included), rounding to one decimal, qualitative ratings, and
// human names of metrics for display. Nothing in it panics on bad input.
package cvss

import (
	"errors"
	"fmt"
	"math"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// Scores of one vector, rounded to one decimal.
type Scores struct {
	Version       string // "2.0", "3.0", "3.1", "4.0"
	Base          float64
	Temporal      float64
	Environmental float64
}

// Metric is one metric of a vector, for display.
type Metric struct {
	Group     string // "Base", "Temporal" (v2, v3), "Threat" (v4), "Environmental", "Supplemental" (v4)
	Abbr      string // "AV"
	Name      string // "Attack Vector"
	Value     string // "N"
	ValueName string // "Network"
}

// Version reports the CVSS version of a vector: "CVSS:3.0/…"→"3.0",
// "CVSS:3.1/…"→"3.1", "CVSS:4.0/…"→"4.0", a bare v2 vector
// ("AV:N/AC:L/Au:N/…", optionally wrapped in parentheses or prefixed
// "CVSS:2.0/")→"2.0"; "" and an error when it is not a vector.
//
// The whole vector is validated, so a nil error also means Score and Metrics
// accept it.
func Version(vector string) (string, error) {
	v, err := parse(vector)
	if err != nil {
		return "", fmt.Errorf("cvss: vector %q: %w", vector, err)
	}
	return v.spec.version, nil
}

// Score parses a vector and scores it. env holds environment-policy
// overrides: metric abbreviation → value (e.g. {"CR":"H","MAV":"N"} for
// v3/v4, {"CDP":"MH","CR":"H"} for v2). Overrides for metrics the vector's
// version does not have are ignored; an invalid value for a metric the
// version has is an error naming the metric and value, and so is an
// override of a metric that is not environmental. Overrides replace what
// the vector says.
//
// For v2 and v3.x the three scores are those of the specification; with no
// temporal metrics Temporal equals Base, and with no environmental metrics
// Environmental still follows its formula (a v3.1 scope-changed vector can
// score higher than its temporal score). CVSS v4.0 has a single score,
// reported as Base = the vector reduced to its base metrics (CVSS-B),
// Temporal = base and threat metrics (CVSS-BT), Environmental = the whole
// vector with overrides (CVSS-BTE). Supplemental metrics never change a
// score. Scores are rounded to one decimal and never below 0 (see round1).
func Score(vector string, env map[string]string) (s Scores, err error) {
	// go-cvss panics on some states it considers unreachable. Validation
	// keeps us out of them, this turns any that remain into an error.
	defer func() {
		if r := recover(); r != nil {
			s, err = Scores{}, fmt.Errorf("cvss: vector %q: scoring failed: %v", vector, r)
		}
	}()
	v, err := parse(vector)
	if err != nil {
		return Scores{}, fmt.Errorf("cvss: vector %q: %w", vector, err)
	}
	if err := v.override(env); err != nil {
		return Scores{}, fmt.Errorf("cvss: vector %q: %w", vector, err)
	}
	s, err = score(v)
	if err != nil {
		return Scores{}, fmt.Errorf("cvss: vector %q: %w", vector, err)
	}
	return s, nil
}

// score hands the canonical vector to go-cvss.
func score(v vector) (Scores, error) {
	s := Scores{Version: v.spec.version}
	switch v.spec {
	case spec20:
		c, err := gocvss20.ParseVector(v.canonical(all))
		if err != nil {
			return s, fmt.Errorf("go-cvss: %w", err)
		}
		s.Base, s.Temporal, s.Environmental = c.BaseScore(), c.TemporalScore(), c.EnvironmentalScore()
	case spec30:
		c, err := gocvss30.ParseVector(v.canonical(all))
		if err != nil {
			return s, fmt.Errorf("go-cvss: %w", err)
		}
		s.Base, s.Temporal, s.Environmental = c.BaseScore(), c.TemporalScore(), c.EnvironmentalScore()
	case spec31:
		c, err := gocvss31.ParseVector(v.canonical(all))
		if err != nil {
			return s, fmt.Errorf("go-cvss: %w", err)
		}
		s.Base, s.Temporal, s.Environmental = c.BaseScore(), c.TemporalScore(), c.EnvironmentalScore()
	case spec40:
		// v4.0 has one score; its nomenclature (CVSS-B, -BT, -BTE) names
		// which groups it was computed from, so each of our three scores is
		// the vector cut down to those groups.
		var err error
		if s.Base, err = score40(v.canonical(baseOnly)); err != nil {
			return s, err
		}
		if s.Temporal, err = score40(v.canonical(baseThreat)); err != nil {
			return s, err
		}
		if s.Environmental, err = score40(v.canonical(all)); err != nil {
			return s, err
		}
	default:
		return s, errors.New("no scorer for this version")
	}
	s.Base, s.Temporal, s.Environmental = round1(s.Base), round1(s.Temporal), round1(s.Environmental)
	return s, nil
}

func score40(canonical string) (float64, error) {
	c, err := gocvss40.ParseVector(canonical)
	if err != nil {
		return 0, fmt.Errorf("go-cvss: %w", err)
	}
	return c.Score(), nil
}

// round1 rounds a score to one decimal and keeps it at or above 0.
//
// go-cvss already rounds, but a float such as 7.6000000000000005 must not
// leak into exports. The v2 equations can go below 0: the zero-impact base
// is -0.0, and a low CR/IR/AR on a small impact gives a negative adjusted
// base, e.g. AV:L/AC:H/Au:M/C:N/I:N/A:P/AR:L scores -0.2 in go-cvss. CVSS
// scores range from 0 to 10, and Red Hat's cvss library (whose test vectors
// we match) clamps each v2 score with max(0, score); so do we.
func round1(x float64) float64 {
	r := math.Round(x*10) / 10
	if r <= 0 { // also turns -0.0 into 0
		return 0
	}
	return r
}

// Rating is the qualitative rating of a score: for "3.0","3.1","4.0": None
// 0.0, Low 0.1–3.9, Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0; for
// "2.0" the NVD v2 bands Low 0.0–3.9, Medium 4.0–6.9, High 7.0–10.0. Title
// case. The score is rounded to one decimal first, so 3.95 is Medium. An
// unknown version or a NaN score gives "".
func Rating(version string, score float64) string {
	if math.IsNaN(score) {
		return ""
	}
	r := math.Round(score*10) / 10
	switch version {
	case "2.0":
		switch {
		case r < 4.0:
			return "Low"
		case r < 7.0:
			return "Medium"
		default:
			return "High"
		}
	case "3.0", "3.1", "4.0":
		switch {
		case r < 0.1:
			return "None"
		case r < 4.0:
			return "Low"
		case r < 7.0:
			return "Medium"
		case r < 9.0:
			return "High"
		default:
			return "Critical"
		}
	}
	return ""
}

// Metrics splits a vector into its metrics in canonical order with their
// human names and value names, for display (e.g. {Group:"Base", Abbr:"AV",
// Name:"Attack Vector", Value:"N", ValueName:"Network"}). Only the metrics
// the vector gives are listed, explicit X/ND included.
func Metrics(vector string) ([]Metric, error) {
	v, err := parse(vector)
	if err != nil {
		return nil, fmt.Errorf("cvss: vector %q: %w", vector, err)
	}
	out := make([]Metric, 0, len(v.vals))
	for i, m := range v.spec.metrics {
		if v.vals[i] == "" {
			continue
		}
		name, _ := v.spec.valueName(i, v.vals[i])
		out = append(out, Metric{Group: m.group, Abbr: m.abbr, Name: m.name, Value: v.vals[i], ValueName: name})
	}
	return out, nil
}
