package assess

import (
	"testing"

	"qvt/internal/nvd"
	"qvt/internal/unixtime"
)

func TestWorkedExample(t *testing.T) {
	// findings.md: QID 105936, KB CVSS_V3 vector, CVE-2020-15778, first
	// found 2022-04-26T04:00:51Z.
	p := DefaultPolicy()
	in := QIDInput{
		QID:        105936,
		Severity:   4,
		KBv3Vector: "CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C",
		CVEs:       []string{"CVE-2020-15778"},
	}
	s := ScoreQID(in, p, nil)
	if s.CVEID != "CVE-2020-15778" || s.Version != "3.0" || s.Base != 7.8 || s.Temporal != 7.6 || s.Env != 7.6 || s.Rating != "High" || s.Source != SourceKBv3 {
		t.Fatalf("score = %+v", s)
	}
	if got := FindingRating(&s, 4); got != "High" {
		t.Errorf("rating = %q", got)
	}
	if got := BreachDate(unix(t, "2022-04-26T04:00:51Z"), "High", p); got != "2022-05-26" {
		t.Errorf("breach date = %q, want 2022-05-26", got)
	}
	if s.BaseRating != "High" || s.TempRating != "High" || s.EnvRating != "High" {
		t.Errorf("ratings = %s %s %s", s.BaseRating, s.TempRating, s.EnvRating)
	}
}

func m(version, typ, vector string, score float64) nvd.Metric {
	return nvd.Metric{Version: version, Type: typ, Source: "x", Vector: vector, BaseScore: score}
}

func TestPrimaryCVE(t *testing.T) {
	known := map[string][]nvd.Metric{
		"CVE-A": {m("3.1", "Primary", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3)},
		"CVE-B": {m("2.0", "Primary", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0), m("3.1", "Secondary", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)},
		"CVE-C": {m("3.1", "Primary", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)},
		"CVE-D": {},
		"CVE-E": {m("4.0", "Secondary", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3)},
	}
	tests := []struct {
		name string
		cves []string
		want string
	}{
		{"highest v3 score wins", []string{"CVE-A", "CVE-C"}, "CVE-C"},
		// CVE-B's v3.1 score (9.8) counts, not its v2 10.0: a tie with
		// CVE-C goes to the one listed first.
		{"v3 before v2, tie to first", []string{"CVE-B", "CVE-C"}, "CVE-B"},
		{"tie to first listed", []string{"CVE-C", "CVE-B"}, "CVE-C"},
		{"unknown to NVD: first listed", []string{"CVE-X", "CVE-Y"}, "CVE-X"},
		{"known beats unknown", []string{"CVE-X", "CVE-A"}, "CVE-A"},
		{"unscored record: first listed", []string{"CVE-D", "CVE-X"}, "CVE-D"},
		{"empty ids dropped", []string{"", "CVE-A"}, "CVE-A"},
		{"v4-only record scored", []string{"CVE-A", "CVE-E"}, "CVE-E"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PrimaryCVE(tt.cves, known); got != tt.want {
				t.Errorf("PrimaryCVE(%v) = %q, want %q", tt.cves, got, tt.want)
			}
		})
	}
}

func TestChooseMetric(t *testing.T) {
	ms := []nvd.Metric{
		m("3.1", "Secondary", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
		m("3.1", "Primary", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
	}
	if got := ChooseMetric(ms, "3.1"); got == nil || got.BaseScore != 9.8 {
		t.Errorf("Primary not chosen over index 0: %+v", got)
	}
	if got := ChooseMetric(ms[:1], "3.1"); got == nil || got.BaseScore != 5.3 {
		t.Errorf("only Secondary: first not chosen: %+v", got)
	}
	if got := ChooseMetric(ms, "2.0"); got != nil {
		t.Errorf("absent version chose %+v", got)
	}
}

func TestVectorOrder(t *testing.T) {
	v31 := "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	v2 := "AV:N/AC:L/Au:N/C:P/I:P/A:P"
	v4 := "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	nvdBoth := map[string][]nvd.Metric{"CVE-1": {m("3.1", "Primary", v31, 9.8), m("2.0", "Primary", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10)}}
	tests := []struct {
		name       string
		in         QIDInput
		wantSrc    string
		wantVector string
		wantRating string
		wantEnv    float64
	}{
		{"KB v3 first", QIDInput{KBv3Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", KBv2Vector: v2, CVEs: []string{"CVE-1"}, NVD: nvdBoth}, SourceKBv3, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", "Low", 3.3},
		{"NVD v3 before KB v2", QIDInput{KBv2Vector: v2, CVEs: []string{"CVE-1"}, NVD: nvdBoth}, SourceNVDv3, v31, "Critical", 9.8},
		{"KB v2 before NVD v2", QIDInput{KBv2Vector: v2, CVEs: []string{"CVE-2"}, NVD: map[string][]nvd.Metric{"CVE-2": {m("2.0", "Primary", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10)}}}, SourceKBv2, v2, "High", 7.5},
		{"NVD v2 last", QIDInput{CVEs: []string{"CVE-2"}, NVD: map[string][]nvd.Metric{"CVE-2": {m("2.0", "Primary", "AV:N/AC:L/Au:N/C:P/I:N/A:N", 5)}}}, SourceNVDv2, "AV:N/AC:L/Au:N/C:P/I:N/A:N", "Medium", 5.0},
		{"NVD v4 when the record has only 4.0", QIDInput{KBv2Vector: v2, CVEs: []string{"CVE-4"}, NVD: map[string][]nvd.Metric{"CVE-4": {m("4.0", "Secondary", v4, 9.3)}}}, SourceNVDv4, v4, "Critical", 9.3},
		{"bad KB v3 falls through", QIDInput{KBv3Vector: "CVSS:3.1/AV:Q", KBv2Vector: v2}, SourceKBv2, v2, "High", 7.5},
		{"KB v3 without prefix", QIDInput{KBv3Vector: "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", KBv3Ver: "3.0"}, SourceKBv3, "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Critical", 9.8},
		{"none", QIDInput{CVEs: []string{"CVE-9"}}, "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ScoreQID(tt.in, DefaultPolicy(), nil)
			if s.Source != tt.wantSrc || s.Vector != tt.wantVector || s.Rating != tt.wantRating || s.Env != tt.wantEnv {
				t.Errorf("got source %q vector %q rating %q env %v (%s)", s.Source, s.Vector, s.Rating, s.Env, s.VectorError)
			}
			if s.HasVector != (tt.wantSrc != "") {
				t.Errorf("HasVector = %v", s.HasVector)
			}
		})
	}
}

func TestPolicyOptions(t *testing.T) {
	in := QIDInput{KBv3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H/E:U", KBv2Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P"}
	p := DefaultPolicy()
	s := ScoreQID(in, p, nil)
	// 3.1 scope changed: base 9.6, temporal 8.8 (E:U), env follows the 3.1 formula.
	if s.Base != 9.6 || s.Rating != s.EnvRating {
		t.Fatalf("default = %+v", s)
	}
	p.RatingFrom = RateBase
	if s := ScoreQID(in, p, nil); s.Rating != "Critical" {
		t.Errorf("rating from base = %q", s.Rating)
	}
	p.RatingFrom = RateSeverity
	if s := ScoreQID(in, p, nil); FindingRating(&s, 2) != "Low" {
		t.Errorf("rating from severity = %q", FindingRating(&s, 2))
	}
	p = DefaultPolicy()
	p.VectorOrder = []string{SourceKBv2}
	if s := ScoreQID(in, p, nil); s.Version != "2.0" || s.Rating != "High" {
		t.Errorf("v2 only = %+v", s)
	}
	// Environment overrides change the environmental score only.
	plain := ScoreQID(in, DefaultPolicy(), nil)
	env := ScoreQID(in, DefaultPolicy(), map[string]string{"CR": "L", "IR": "L", "AR": "L"})
	if env.Base != plain.Base || env.Temporal != plain.Temporal || env.Env >= plain.Env {
		t.Errorf("overrides: %+v, without: %+v", env, plain)
	}
}

func TestSeverityRating(t *testing.T) {
	want := map[int]string{5: "Critical", 4: "High", 3: "Medium", 2: "Low", 1: "Low", 0: "None"}
	for sev, r := range want {
		if got := SeverityRating(sev); got != r {
			t.Errorf("SeverityRating(%d) = %q, want %q", sev, got, r)
		}
		if got := FindingRating(nil, sev); got != r {
			t.Errorf("FindingRating(nil, %d) = %q", sev, got)
		}
	}
}

func unix(t *testing.T, s string) int64 {
	t.Helper()
	u, ok := unixtime.Parse(s)
	if !ok {
		t.Fatalf("bad time %q", s)
	}
	return u
}

func TestBreachDate(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct{ start, rating, want string }{
		{"2022-04-26T04:00:51Z", "High", "2022-05-26"},
		{"2022-04-26T04:00:51Z", "Critical", "2022-05-11"},
		{"2022-04-26T04:00:51Z", "Medium", "2022-07-25"},
		{"2022-04-26T04:00:51Z", "Low", "2022-10-23"},
		{"2022-04-26T04:00:51Z", "None", ""},
		{"2022-04-26T23:30:00-02:00", "High", "2022-05-27"}, // UTC date is the 27th
		{"", "High", ""},
		{"2024-02-15T00:00:00Z", "Critical", "2024-03-01"}, // leap year
		{"1969-12-31T23:00:00Z", "Critical", "1970-01-15"},
	}
	for _, tt := range tests {
		if got := BreachDate(unix(t, tt.start), tt.rating, p); got != tt.want {
			t.Errorf("BreachDate(%q, %q) = %q, want %q", tt.start, tt.rating, got, tt.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Policy{
		{VectorOrder: []string{"kb_v5"}, RatingFrom: RateEnv},
		{VectorOrder: DefaultVectorOrder, RatingFrom: "max"},
		{VectorOrder: DefaultVectorOrder, RatingFrom: RateEnv, SLADays: map[string]int{"Urgent": 3}},
		{VectorOrder: DefaultVectorOrder, RatingFrom: RateEnv, SLADays: map[string]int{"High": -1}},
		{RatingFrom: RateEnv},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	a, b := DefaultPolicy(), DefaultPolicy()
	b.SLADays["High"] = 14
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("fingerprint ignores SLA days")
	}
}

func TestSLAStart(t *testing.T) {
	first := unix(t, "2022-04-26T04:00:51Z")
	reopened := unix(t, "2022-08-01T10:00:00Z")
	published := unix(t, "2020-07-30T12:00:00Z")
	tests := []struct {
		name     string
		from     string
		restart  bool
		reopened int64
		pub      int64
		want     string // High: 30 days
	}{
		{"first found", "", false, reopened, published, "2022-05-26"},
		{"restart on reopen", "", true, reopened, published, "2022-08-31"},
		{"not reopened", "", true, 0, published, "2022-05-26"},
		{"from publication", SLAPublished, false, 0, published, "2020-08-29"},
		{"publication unknown", SLAPublished, false, 0, 0, "2022-05-26"},
		{"publication, then reopened", SLAPublished, true, reopened, published, "2022-08-31"},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		p.SLAFrom, p.SLARestartOnReopen = tt.from, tt.restart
		if got := BreachDate(SLAStart(first, tt.reopened, tt.pub, p), "High", p); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	p := DefaultPolicy()
	q := DefaultPolicy()
	q.SLARestartOnReopen = true
	if p.Fingerprint() == q.Fingerprint() {
		t.Error("fingerprint ignores the restart option")
	}
	q = DefaultPolicy()
	q.SLAFrom = "yesterday"
	if q.Validate() == nil {
		t.Error("bad sla_from accepted")
	}
}
