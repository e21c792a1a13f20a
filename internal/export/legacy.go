package export

import (
	"io"
	"strconv"
	"strings"

	"qvt/internal/jsonenc"
	"qvt/internal/store"
)

// legacyWriter writes the old Python tool's output: one JSON object whose
// keys are finding keys, with its field names and its types (numbers as
// strings where it used strings). Consumers of that tool parse exactly
// this, so nothing here may change shape.
type legacyWriter struct {
	w   io.Writer
	n   int
	buf []byte
}

func (l *legacyWriter) Write(r *store.Row) error {
	f := &r.Finding
	b := l.buf[:0]
	if l.n == 0 {
		b = append(b, "{\n"...)
	} else {
		b = append(b, ",\n"...)
	}
	l.n++
	str := func(name, v string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = jsonenc.String(b, v)
	}
	opt := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	flag := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	score := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	}
	lg := &store.Legacy{}
	if r.Shared != nil {
		lg = &r.Shared.Legacy
	}
	b = jsonenc.String(b, f.Key)
	b = append(b, `: {"ip":`...)
	b = jsonenc.String(b, f.IP)
	str("qid", strconv.Itoa(f.QID))
	b = append(b, `,"port":`...)
	b = jsonenc.Int(b, int64(f.Port))
	str("status", f.Status)
	str("times_found", strconv.Itoa(f.TimesFound))
	str("results", f.Results)
	str("first_found", opt(f.FirstFound))
	str("last_found", opt(f.LastFound))
	str("diagnosis", f.Diagnosis)
	str("consequence", f.Consequence)
	str("solution", f.Solution)
	str("vuln_type", f.VulnType)
	var impact jsonenc.Object
	impact.Field("CONFIDENTIALITY", lg.ImpactC)
	impact.Field("INTEGRITY", lg.ImpactI)
	impact.Field("AVAILABILITY", lg.ImpactA)
	b = append(b, `,"impact":`...)
	b = append(b, impact.Close()...)
	str("title", f.Title)
	str("discovery", flag(f.Remote))
	str("base", score(f.Base))
	str("temporal", score(f.Temporal))
	str("cvss_vector", f.CVSSVector)
	str("cve_id", f.CVEID)
	var scores jsonenc.Object
	scores.Field("base", score(f.Base))
	scores.Field("temporal", score(f.Temporal))
	scores.Field("environmental", score(f.EnvScore))
	scores.Field("severeties", severeties(f.EnvScore != nil, lg))
	b = append(b, `,"cvss_scores":`...)
	b = append(b, scores.Close()...)
	b = append(b, `,"env_score":`...)
	b = optScore(b, f.EnvScore)
	str("vuln_score", f.VulnScore)
	str("breach_date", f.BreachDate)
	str("patchable", flag(f.Patchable))
	str("vendor_ref", strings.Join(f.VendorRefs, ", "))
	b = append(b, '}')
	l.buf = b
	_, err := l.w.Write(b)
	return err
}

// severeties prints the three ratings as the old tool did: a Python tuple.
func severeties(scored bool, lg *store.Legacy) string {
	if !scored {
		return ""
	}
	return "('" + lg.BaseRating + "', '" + lg.TempRating + "', '" + lg.EnvRating + "')"
}

func (l *legacyWriter) Close() error {
	if l.n == 0 {
		io.WriteString(l.w, "{}\n")
	} else {
		io.WriteString(l.w, "\n}\n")
	}
	return closeWriter(l.w)
}
