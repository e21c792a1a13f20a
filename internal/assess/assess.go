// Package assess turns what Qualys and NVD say about a vulnerability into
// a scored finding, as docs/findings.md specifies: the primary CVE, the
// choice of the scoring vector, base/temporal/environmental scores, the
// rating and the remediation deadline. It is pure: no I/O, no clock.
//
// Scores depend only on the QID (its KB entry and the NVD records of its
// CVEs) and on the environment policy of the host, never on the detection,
// so they are computed once per (QID, policy) by ScoreQID; a detection
// only adds its severity (for QIDs without a vector) and its dates (for
// the deadline).
package assess

import (
	"fmt"
	"slices"
	"strings"

	"qvt/internal/cvss"
	"qvt/internal/nvd"
	"qvt/internal/unixtime"
)

// Vector sources, in the names the configuration uses.
const (
	SourceKBv3  = "kb_v3"  // KB CVSS_V3/VECTOR_STRING
	SourceNVDv3 = "nvd_v3" // NVD v3.1, else v3.0, of the primary CVE
	SourceNVDv4 = "nvd_v4" // NVD v4.0 of the primary CVE
	SourceKBv2  = "kb_v2"  // KB CVSS/VECTOR_STRING
	SourceNVDv2 = "nvd_v2" // NVD v2 of the primary CVE
)

// DefaultVectorOrder is the contract's order. NVD v4.0 stands right after
// NVD v3.x so that it is scored only when the primary CVE's record has no
// v3.x entry ("scored when the chosen source only has 4.0").
var DefaultVectorOrder = []string{SourceKBv3, SourceNVDv3, SourceNVDv4, SourceKBv2, SourceNVDv2}

// Which score the rating is taken from.
const (
	RateEnv      = "env"
	RateTemporal = "temporal"
	RateBase     = "base"
	RateSeverity = "severity" // the Qualys severity, ignoring CVSS
)

// Policy is the scoring policy: how vectors are chosen, which score rates
// a finding, and the deadlines per rating.
type Policy struct {
	VectorOrder []string       // vector sources, first that exists wins
	RatingFrom  string         // RateEnv (default), RateTemporal, RateBase or RateSeverity
	SLADays     map[string]int // rating → days to fix; a rating not listed has no deadline
	// SLAFrom is when the clock starts: SLAFirstFound (default, the
	// detection's first_found) or SLAPublished (the QID's publication in
	// the KB, when known: a finding found late is not given more time).
	SLAFrom string
	// SLARestartOnReopen starts the clock again when a fixed finding
	// reopens (at its LAST_REOPENED_DATETIME).
	SLARestartOnReopen bool
}

// When the SLA clock starts.
const (
	SLAFirstFound = "first_found"
	SLAPublished  = "published"
)

// DefaultPolicy is the contract's policy.
func DefaultPolicy() Policy {
	return Policy{
		VectorOrder: slices.Clone(DefaultVectorOrder),
		RatingFrom:  RateEnv,
		SLADays:     map[string]int{"Critical": 15, "High": 30, "Medium": 90, "Low": 180},
	}
}

// Validate checks a policy read from configuration.
func (p Policy) Validate() error {
	if len(p.VectorOrder) == 0 {
		return fmt.Errorf("scoring: vector_order is empty")
	}
	for _, s := range p.VectorOrder {
		if !slices.Contains(DefaultVectorOrder, s) {
			return fmt.Errorf("scoring: vector_order: unknown source %q (known: %s)", s, strings.Join(DefaultVectorOrder, ", "))
		}
	}
	switch p.RatingFrom {
	case RateEnv, RateTemporal, RateBase, RateSeverity:
	default:
		return fmt.Errorf("scoring: rating_from: %q is not one of env, temporal, base, severity", p.RatingFrom)
	}
	switch p.SLAFrom {
	case "", SLAFirstFound, SLAPublished:
	default:
		return fmt.Errorf("scoring: sla_from: %q is not one of first_found, published", p.SLAFrom)
	}
	for r, d := range p.SLADays {
		if !slices.Contains(Ratings, r) {
			return fmt.Errorf("scoring: sla_days: unknown rating %q (known: %s)", r, strings.Join(Ratings, ", "))
		}
		if d < 0 {
			return fmt.Errorf("scoring: sla_days: %s: %d is negative", r, d)
		}
	}
	return nil
}

// Fingerprint identifies a policy: stored scores made under another
// fingerprint must be recomputed.
func (p Policy) Fingerprint() string {
	var b strings.Builder
	b.WriteString(strings.Join(p.VectorOrder, ","))
	b.WriteString("|" + p.RatingFrom + "|")
	if p.SLAFrom == SLAPublished {
		b.WriteString("from published|")
	}
	if p.SLARestartOnReopen {
		b.WriteString("restart on reopen|")
	}
	for _, r := range Ratings {
		if d, ok := p.SLADays[r]; ok {
			fmt.Fprintf(&b, "%s=%d;", r, d)
		}
	}
	return b.String()
}

// Ratings from lowest to highest.
var Ratings = []string{"None", "Low", "Medium", "High", "Critical"}

// QIDInput is what scoring a QID needs: its KB vectors and CVE list, and
// the NVD metrics of those CVEs that NVD knows.
type QIDInput struct {
	QID        int
	Severity   int    // KB SEVERITY_LEVEL
	KBv3Vector string // KB CVSS_V3/VECTOR_STRING
	KBv3Ver    string // KB CVSS_V3/CVSS3_VERSION
	KBv2Vector string // KB CVSS/VECTOR_STRING
	CVEs       []string
	NVD        map[string][]nvd.Metric // CVE id → its metric entries; absent when NVD does not know it
	Published  int64                   // KB PUBLISHED_DATETIME, Unix seconds (for SLAs that count from it)
}

// Score is the scoring of one QID under one environment policy.
type Score struct {
	QID         int
	CVEID       string // primary CVE, "" if the QID lists none
	Version     string // "2.0", "3.0", "3.1", "4.0"; "" when no vector
	Vector      string // as found in its source
	Source      string // which vector source gave it
	Base        float64
	Temporal    float64
	Env         float64
	HasVector   bool
	Rating      string // vuln_score when HasVector (and rating is not from severity)
	BaseRating  string // ratings of the three scores, for the legacy record
	TempRating  string
	EnvRating   string
	VectorError string // why a vector that exists could not be scored, if one could not
}

// ScoreQID chooses the primary CVE and the scoring vector of a QID and
// scores it with the environment overrides of a policy (metric → value).
func ScoreQID(in QIDInput, p Policy, env map[string]string) Score {
	s := Score{QID: in.QID, CVEID: PrimaryCVE(in.CVEs, in.NVD)}
	order := p.VectorOrder
	if len(order) == 0 {
		order = DefaultVectorOrder
	}
	for _, src := range order {
		vec := vectorFrom(src, in, s.CVEID)
		if vec == "" {
			continue
		}
		sc, err := cvss.Score(scoringForm(src, vec, in.KBv3Ver), env)
		if err != nil {
			// A malformed vector does not exist for scoring: try the
			// next source, and say why this one was passed over.
			if s.VectorError == "" {
				s.VectorError = fmt.Sprintf("%s %q: %v", src, vec, err)
			}
			continue
		}
		s.Version, s.Vector, s.Source, s.HasVector = sc.Version, vec, src, true
		s.Base, s.Temporal, s.Env = sc.Base, sc.Temporal, sc.Environmental
		s.BaseRating = cvss.Rating(sc.Version, sc.Base)
		s.TempRating = cvss.Rating(sc.Version, sc.Temporal)
		s.EnvRating = cvss.Rating(sc.Version, sc.Environmental)
		switch p.RatingFrom {
		case RateBase:
			s.Rating = s.BaseRating
		case RateTemporal:
			s.Rating = s.TempRating
		case RateSeverity:
			s.Rating = ""
		default:
			s.Rating = s.EnvRating
		}
		break
	}
	return s
}

// scoringForm makes a KB v3 vector scorable: Qualys may send it without
// the "CVSS:3.x/" prefix, with the version in CVSS3_VERSION.
func scoringForm(src, vec, kbVersion string) string {
	if src != SourceKBv3 || strings.HasPrefix(vec, "CVSS:") {
		return vec
	}
	ver := strings.TrimSpace(kbVersion)
	if ver != "3.0" {
		ver = "3.1"
	}
	return "CVSS:" + ver + "/" + strings.Trim(vec, "()")
}

func vectorFrom(src string, in QIDInput, primary string) string {
	switch src {
	case SourceKBv3:
		return strings.TrimSpace(in.KBv3Vector)
	case SourceKBv2:
		return strings.TrimSpace(in.KBv2Vector)
	}
	ms, ok := in.NVD[primary]
	if !ok || primary == "" {
		return ""
	}
	var m *nvd.Metric
	switch src {
	case SourceNVDv3:
		if m = ChooseMetric(ms, "3.1"); m == nil {
			m = ChooseMetric(ms, "3.0")
		}
	case SourceNVDv4:
		m = ChooseMetric(ms, "4.0")
	case SourceNVDv2:
		m = ChooseMetric(ms, "2.0")
	}
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m.Vector)
}

// ChooseMetric picks, among a record's entries of one CVSS version, NVD's
// own (type Primary), else the first one. Index 0 is not always NVD's.
func ChooseMetric(ms []nvd.Metric, version string) *nvd.Metric {
	var first *nvd.Metric
	for i := range ms {
		if ms[i].Version != version {
			continue
		}
		if ms[i].Type == "Primary" {
			return &ms[i]
		}
		if first == nil {
			first = &ms[i]
		}
	}
	return first
}

// NVDBaseScore is the base score NVD gives a record for choosing the
// primary CVE: its v3.1 (else v3.0) score, else its v2 score, else its v4.0
// score. ok is false when the record has none.
func NVDBaseScore(ms []nvd.Metric) (score float64, ok bool) {
	for _, v := range []string{"3.1", "3.0", "2.0", "4.0"} {
		if m := ChooseMetric(ms, v); m != nil {
			return m.BaseScore, true
		}
	}
	return 0, false
}

// PrimaryCVE is, of a QID's CVE ids, the one with the highest NVD base
// score; ties go to the one listed first; if NVD scores none of them, the
// first listed; "" when there are none.
func PrimaryCVE(cves []string, known map[string][]nvd.Metric) string {
	best, bestScore, found := "", 0.0, false
	for _, id := range cves {
		if id == "" {
			continue
		}
		if best == "" {
			best = id
		}
		ms, ok := known[id]
		if !ok {
			continue
		}
		if sc, ok := NVDBaseScore(ms); ok && (!found || sc > bestScore) {
			best, bestScore, found = id, sc, true
		}
	}
	return best
}

// SeverityRating rates a finding from its Qualys severity when it has no
// vector: 5 Critical, 4 High, 3 Medium, 2 and 1 Low.
func SeverityRating(severity int) string {
	switch {
	case severity >= 5:
		return "Critical"
	case severity == 4:
		return "High"
	case severity == 3:
		return "Medium"
	case severity >= 1:
		return "Low"
	}
	return "None"
}

// FindingRating is a finding's vuln_score: its QID's rating when it has a
// vector (and the policy rates by CVSS), else its severity's.
func FindingRating(s *Score, severity int) string {
	if s != nil && s.HasVector && s.Rating != "" {
		return s.Rating
	}
	return SeverityRating(severity)
}

// SLAStart is when a finding's SLA clock starts (Unix seconds, 0 when
// unknown): its first_found, or the QID's publication date, moved to its
// last reopening when the policy restarts the clock then.
func SLAStart(firstFound, lastReopened, published int64, p Policy) int64 {
	start := firstFound
	if p.SLAFrom == SLAPublished && published != 0 {
		start = published
	}
	if p.SLARestartOnReopen && lastReopened > start {
		start = lastReopened
	}
	return start
}

// BreachDate is the deadline of a finding: the UTC date of start (Unix
// seconds, normally its first_found) plus the policy's days for its
// rating, as YYYY-MM-DD; "" when the rating has no deadline or start is
// unknown (0).
func BreachDate(start int64, rating string, p Policy) string {
	days, ok := p.SLADays[rating]
	if !ok || start == 0 {
		return ""
	}
	day := start / 86400
	if start%86400 < 0 {
		day--
	}
	return string(unixtime.AppendDate(make([]byte, 0, 10), (day+int64(days))*86400))
}
