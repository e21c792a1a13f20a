package priority

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func f64(v float64) *float64 { return &v }
func i(v int) *int           { return &v }
func b(v bool) *bool         { return &v }

// at is the Unix time of a date at 13:45 UTC: the clock counts from the
// UTC date, not the hour.
func at(date string) int64 {
	t, err := time.Parse("2006-01-02 15:04", date+" 13:45")
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

// The default rules of the contract, each at its edge; first match wins.
func TestDefaultRules(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	for _, tc := range []struct {
		name   string
		in     Input
		p, why string
	}{
		{"nothing known", Input{}, P4, RuleOther},
		{"rating None", Input{Rating: "None"}, P4, RuleOther},
		{"rating Low", Input{Rating: "Low"}, P4, RuleOther},
		{"rating Medium", Input{Rating: "Medium"}, P4, RuleOther},
		{"rating High", Input{Rating: "High"}, P3, RuleSevere},
		{"rating Critical", Input{Rating: "Critical"}, P3, RuleSevere},
		{"rating in lower case", Input{Rating: "high"}, P3, RuleSevere},
		{"rating unknown", Input{Rating: "Severe"}, P4, RuleOther},
		{"epss exactly 0.1", Input{EPSS: f64(0.1), Rating: "Low"}, P2, RuleLikelyExploited},
		{"epss 0.1 as the file writes it", Input{EPSS: f64(0.10000)}, P2, RuleLikelyExploited},
		{"epss just under 0.1", Input{EPSS: f64(0.09999), Rating: "Low"}, P4, RuleOther},
		{"epss just under 0.1, High", Input{EPSS: f64(0.09999), Rating: "High"}, P3, RuleSevere},
		{"epss 1", Input{EPSS: f64(1)}, P2, RuleLikelyExploited},
		{"epss 0", Input{EPSS: f64(0)}, P4, RuleOther},
		{"percentile alone is not a default rule", Input{Percentile: f64(0.999)}, P4, RuleOther},
		{"qds 90", Input{QDS: i(90)}, P2, RuleLikelyExploited},
		{"qds 89", Input{QDS: i(89)}, P4, RuleOther},
		{"qds 89, Critical", Input{QDS: i(89), Rating: "Critical"}, P3, RuleSevere},
		{"qds 100", Input{QDS: i(100)}, P2, RuleLikelyExploited},
		{"threat intel Active_Attacks", Input{ThreatIntel: []string{"Active_Attacks"}}, P2, RuleLikelyExploited},
		{"threat intel Ransomware", Input{ThreatIntel: []string{"Ransomware"}}, P2, RuleLikelyExploited},
		{"threat intel Malware", Input{ThreatIntel: []string{"Malware"}}, P2, RuleLikelyExploited},
		{"threat intel Exploit_Kit", Input{ThreatIntel: []string{"Exploit_Kit"}}, P2, RuleLikelyExploited},
		{"threat intel Wormable", Input{ThreatIntel: []string{"Wormable"}}, P2, RuleLikelyExploited},
		{"threat intel in any case", Input{ThreatIntel: []string{"active_attacks"}}, P2, RuleLikelyExploited},
		{"threat intel among others", Input{ThreatIntel: []string{"Exploit_Public", "Easy_Exploit", "Wormable"}}, P2, RuleLikelyExploited},
		{"threat intel Exploit_Public only", Input{ThreatIntel: []string{"Exploit_Public", "Easy_Exploit"}, Rating: "Medium"}, P4, RuleOther},
		{"likely exploited before severe", Input{EPSS: f64(0.5), Rating: "Critical"}, P2, RuleLikelyExploited},
		{"kev", Input{KEV: true, KEVDateAdded: "2025-03-01"}, P1, RuleKnownExploited},
		{"kev with a low rating", Input{KEV: true, Rating: "Low", EPSS: f64(0.0001)}, P1, RuleKnownExploited},
		{"kev wins over everything", Input{KEV: true, KEVRansomware: true, EPSS: f64(0.97), Percentile: f64(0.999),
			ThreatIntel: []string{"Active_Attacks", "Wormable"}, QDS: i(100), Rating: "Critical"}, P1, RuleKnownExploited},
		{"tags are not read by default", Input{Tags: []string{"PCI"}, Rating: "Low"}, P4, RuleOther},
	} {
		r := p.Eval(tc.in)
		if r.Priority != tc.p || r.Reason != tc.why {
			t.Errorf("%s: got %s %q, want %s %q", tc.name, r.Priority, r.Reason, tc.p, tc.why)
		}
	}
	if p.ReadsTags() {
		t.Error("the default rules read tags")
	}
}

// Due dates: P1's 14 days from the later of first_found and the KEV date,
// other priorities the breach date, the earlier of the two.
func TestDueDate(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		name string
		in   Input
		p    string
		due  string
	}{
		{"the contract's example", Input{KEV: true, KEVDateAdded: "2025-03-01", Rating: "High",
			FirstFound: at("2025-01-10"), BreachDate: "2025-02-09"}, P1, "2025-03-15"},
		{"kev before first found: counts from first found", Input{KEV: true, KEVDateAdded: "2022-05-01", Rating: "High",
			FirstFound: at("2025-01-10"), BreachDate: "2025-02-09"}, P1, "2025-01-24"},
		{"kev on the day first found", Input{KEV: true, KEVDateAdded: "2025-01-10", FirstFound: at("2025-01-10")}, P1, "2025-01-24"},
		{"breach date earlier than 14 days", Input{KEV: true, KEVDateAdded: "2021-12-10", Rating: "Critical",
			FirstFound: at("2025-01-10"), BreachDate: "2025-01-17"}, P1, "2025-01-17"},
		{"breach date on the deadline", Input{KEV: true, KEVDateAdded: "2021-12-10", FirstFound: at("2025-01-10"), BreachDate: "2025-01-24"}, P1, "2025-01-24"},
		{"breach date later", Input{KEV: true, KEVDateAdded: "2021-12-10", FirstFound: at("2025-01-10"), BreachDate: "2025-02-09"}, P1, "2025-01-24"},
		{"kev without a breach date", Input{KEV: true, KEVDateAdded: "2025-03-01", FirstFound: at("2025-01-10")}, P1, "2025-03-15"},
		{"first found unknown: the kev date", Input{KEV: true, KEVDateAdded: "2025-03-01"}, P1, "2025-03-15"},
		{"first found unknown, no kev date: the breach date", Input{KEV: true, BreachDate: "2025-02-09"}, P1, "2025-02-09"},
		{"neither", Input{KEV: true}, P1, ""},
		{"across a month end", Input{KEV: true, KEVDateAdded: "2024-02-20", FirstFound: at("2024-01-01")}, P1, "2024-03-05"},
		{"across a year end", Input{KEV: true, KEVDateAdded: "2024-12-25", FirstFound: at("2024-01-01")}, P1, "2025-01-08"},
		{"UTC date of first found, just before midnight", Input{KEV: true, FirstFound: at("2025-01-10") + 10*3600 + 14*60 + 59}, P1, "2025-01-24"},
		{"P2 has no days: the breach date", Input{EPSS: f64(0.3), Rating: "High", FirstFound: at("2025-01-10"), BreachDate: "2025-02-09"}, P2, "2025-02-09"},
		{"P3: the breach date", Input{Rating: "Critical", FirstFound: at("2025-01-10"), BreachDate: "2025-01-25"}, P3, "2025-01-25"},
		{"P4 without a breach date", Input{Rating: "Low", FirstFound: at("2025-01-10")}, P4, ""},
	} {
		r := p.Eval(tc.in)
		if r.Priority != tc.p || r.DueDate != tc.due {
			t.Errorf("%s: got %s due %q, want %s due %q", tc.name, r.Priority, r.DueDate, tc.p, tc.due)
		}
	}
}

// A priority from a rule that did not match on KEV counts from
// first_found even when the finding is KEV.
func TestDueDateOtherRules(t *testing.T) {
	p := Policy{Rules: []Rule{
		{Name: "hot", Priority: P1, When: Conditions{EPSSAtLeast: f64(0.5)}},
		{Name: "kev", Priority: P1, When: Conditions{KEV: b(true)}},
		{Name: "rest", Priority: P3},
	}, Days: map[string]int{P1: 10, P3: 0}}
	kev := Input{KEV: true, KEVDateAdded: "2025-03-01", FirstFound: at("2025-01-10")}
	hot := kev
	hot.EPSS = f64(0.6)
	for _, tc := range []struct {
		name     string
		in       Input
		why, due string
	}{
		{"epss rule: from first found", hot, "hot", "2025-01-20"},
		{"kev rule: from the kev date", kev, "kev", "2025-03-11"},
		{"zero days: due the day first found", Input{FirstFound: at("2025-01-10"), BreachDate: "2025-04-10"}, "rest", "2025-01-10"},
	} {
		if r := p.Eval(tc.in); r.Reason != tc.why || r.DueDate != tc.due {
			t.Errorf("%s: got %q due %q, want %q due %q", tc.name, r.Reason, r.DueDate, tc.why, tc.due)
		}
	}
}

func loadPolicy(t *testing.T, path string) Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p Policy
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	p = p.Normalize()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Custom rules from a file: every condition, alone and as a scope.
func TestCustomRules(t *testing.T) {
	p := loadPolicy(t, "testdata/rules.yaml")
	if !p.ReadsTags() {
		t.Error("ReadsTags: false for rules with tags")
	}
	ff := at("2025-01-10")
	for _, tc := range []struct {
		name        string
		in          Input
		p, why, due string
	}{
		{"kev_ransomware", Input{KEV: true, KEVRansomware: true, KEVDateAdded: "2025-02-01", FirstFound: ff}, P1, "ransomware", "2025-02-08"},
		{"kev with a tag, any case", Input{KEV: true, KEVDateAdded: "2020-01-01", Tags: []string{"dmz", "pci"}, FirstFound: ff}, P1, "kev on pci", "2025-01-17"},
		{"kev without the tag", Input{KEV: true, KEVDateAdded: "2025-02-01", Tags: []string{"dmz"}, FirstFound: ff}, P2, "kev elsewhere", "2025-03-03"},
		{"kev without tags", Input{KEV: true, FirstFound: ff}, P2, "kev elsewhere", "2025-02-09"},
		{"percentile exactly 0.95", Input{Percentile: f64(0.95), FirstFound: ff}, P2, "epss top 5%", "2025-02-09"},
		{"percentile 0.94999", Input{Percentile: f64(0.94999), FirstFound: ff}, P4, "rest", ""},
		{"epss exactly 0.5", Input{EPSS: f64(0.5)}, P2, "epss high", ""},
		{"epss 0.49999", Input{EPSS: f64(0.49999)}, P4, "rest", ""},
		{"qds exactly 70", Input{QDS: i(70), FirstFound: ff, BreachDate: "2025-03-01"}, P3, "qualys says", "2025-03-01"},
		{"qds 69", Input{QDS: i(69)}, P4, "rest", ""},
		{"threat intel of the list", Input{ThreatIntel: []string{"Easy_Exploit", "zero_day"}}, P3, "public exploit", ""},
		{"threat intel of the default list only", Input{ThreatIntel: []string{"Active_Attacks"}}, P4, "rest", ""},
		{"rating with the tag", Input{Rating: "Medium", Tags: []string{"PCI"}}, P3, "pci severe", ""},
		{"rating without the tag", Input{Rating: "Medium", Tags: []string{"dmz"}}, P4, "rest", ""},
		{"a tag alone is a scope that matches", Input{Rating: "Low", Tags: []string{"PCI"}}, P3, "pci hosts", ""},
		{"kev false on a lab host", Input{Rating: "Critical", Tags: []string{"lab"}}, P4, "lab not kev", ""},
		{"kev false elsewhere", Input{Rating: "Critical", Tags: []string{"dmz"}}, P4, "rest", ""},
	} {
		r := p.Eval(tc.in)
		if r.Priority != tc.p || r.Reason != tc.why || r.DueDate != tc.due {
			t.Errorf("%s: got %+v, want %s %q due %q", tc.name, r, tc.p, tc.why, tc.due)
		}
	}
}

// Each mistake in the rules is one line naming the rule and the field.
func TestValidate(t *testing.T) {
	ok := Rule{Name: "rest", Priority: P4}
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"no rules", Policy{}, "priority.rules: no rules (the last rule must match always)"},
		{"unknown priority", Policy{Rules: []Rule{{Name: "x", Priority: "P5"}, ok}},
			`priority.rules[0] (x): priority: "P5" is not a priority (P1, P2, P3, P4)`},
		{"no priority", Policy{Rules: []Rule{ok, {Name: "y"}}},
			`priority.rules[1] (y): priority: "" is not a priority (P1, P2, P3, P4)`},
		{"no name", Policy{Rules: []Rule{{Priority: P1, When: Conditions{KEV: b(true)}}, ok}},
			"priority.rules[0]: name: empty (the name is the priority_reason of the findings the rule matches)"},
		{"bad rating", Policy{Rules: []Rule{ok, ok, {Name: "severe", Priority: P3, When: Conditions{RatingAtLeast: "Hgh"}}, ok}},
			`priority.rules[2] (severe): rating_at_least: "Hgh" is not a rating (None, Low, Medium, High, Critical)`},
		{"epss over 1", Policy{Rules: []Rule{{Name: "e", Priority: P2, When: Conditions{EPSSAtLeast: f64(10)}}, ok}},
			"priority.rules[0] (e): epss_at_least: 10 is not between 0 and 1"},
		{"negative percentile", Policy{Rules: []Rule{{Name: "e", Priority: P2, When: Conditions{PercentileAtLeast: f64(-0.5)}}, ok}},
			"priority.rules[0] (e): percentile_at_least: -0.5 is not between 0 and 1"},
		{"qds over 100", Policy{Rules: []Rule{{Name: "q", Priority: P2, When: Conditions{QDSAtLeast: i(101)}}, ok}},
			"priority.rules[0] (q): qds_at_least: 101 is not between 0 and 100"},
		{"empty threat intel name", Policy{Rules: []Rule{{Name: "t", Priority: P2, When: Conditions{ThreatIntel: []string{"Wormable", " "}}}, ok}},
			"priority.rules[0] (t): threat_intel[1]: empty name"},
		{"empty tag", Policy{Rules: []Rule{{Name: "t", Priority: P2, When: Conditions{Tags: []string{""}}}, ok}},
			"priority.rules[0] (t): tags[0]: empty name"},
		{"last rule not catch-all", Policy{Rules: []Rule{ok, {Name: "severe", Priority: P3, When: Conditions{RatingAtLeast: "High"}}}},
			"priority.rules[1] (severe): the last rule must match always (give it no conditions)"},
		{"last rule with only tags", Policy{Rules: []Rule{{Name: "pci", Priority: P3, When: Conditions{Tags: []string{"PCI"}}}}},
			"priority.rules[0] (pci): the last rule must match always (give it no conditions)"},
		{"negative days", Policy{Rules: []Rule{ok}, Days: map[string]int{P1: 14, P2: -3}},
			"priority.days: P2: -3 is negative"},
		{"too many days", Policy{Rules: []Rule{ok}, Days: map[string]int{P3: 100000}},
			"priority.days: P3: 100000 is more than 36500 (a century)"},
		{"days of an unknown priority", Policy{Rules: []Rule{ok}, Days: map[string]int{"P0": 1}},
			`priority.days: "P0" is not a priority (P1, P2, P3, P4)`},
		{"lower case is for Normalize", Policy{Rules: []Rule{{Name: "r", Priority: "p4"}}},
			`priority.rules[0] (r): priority: "p4" is not a priority (P1, P2, P3, P4)`},
	} {
		err := tc.p.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, err, tc.want)
		}
	}
}

// Normalize spells priorities and ratings as the contract does and
// leaves the policy it was given alone.
func TestNormalize(t *testing.T) {
	p := Policy{Rules: []Rule{
		{Name: " severe ", Priority: "p3", When: Conditions{RatingAtLeast: "high", EPSSAtLeast: f64(0.2)}},
		{Name: "rest", Priority: " P4"},
	}, Days: map[string]int{"p1": 7}}
	n := p.Normalize()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	if n.Rules[0].Name != "severe" || n.Rules[0].Priority != P3 || n.Rules[0].When.RatingAtLeast != "High" ||
		n.Rules[1].Priority != P4 || n.Days[P1] != 7 || len(n.Days) != 1 {
		t.Errorf("normalized = %+v", n)
	}
	*n.Rules[0].When.EPSSAtLeast = 0.9
	if p.Rules[0].Priority != "p3" || p.Rules[0].When.RatingAtLeast != "high" || *p.Rules[0].When.EPSSAtLeast != 0.2 || p.Days["p1"] != 7 {
		t.Errorf("Normalize changed its policy: %+v", p)
	}
	if r := n.Eval(Input{Rating: "Critical"}); r.Priority != P3 || r.Reason != "severe" {
		t.Errorf("eval = %+v", r)
	}
}

// Hash is stable for one policy, the same however it is spelt, and
// changes with anything that changes a finding's priority, reason or
// due date.
func TestHash(t *testing.T) {
	base := Default().Hash()
	if len(base) != 16 || base != Default().Hash() {
		t.Fatalf("hash %q is not stable", base)
	}
	// A fixed value: a new hash for the same rules would re-prioritize
	// every stored finding, so a change here must be deliberate.
	if base != "4aadbdfb0466f674" {
		t.Errorf("Default().Hash() = %s, was 4aadbdfb0466f674", base)
	}
	spelt := Default()
	spelt.Rules[0].Priority = "p1"
	spelt.Rules[2].When.RatingAtLeast = "HIGH"
	spelt.Days = map[string]int{"p1": 14}
	if spelt.Hash() != base {
		t.Error("the hash depends on how a priority or a rating is spelt")
	}
	changes := map[string]func(*Policy){
		"rule renamed":         func(p *Policy) { p.Rules[1].Name = "likely" },
		"priority changed":     func(p *Policy) { p.Rules[2].Priority = P2 },
		"epss threshold":       func(p *Policy) { *p.Rules[1].When.EPSSAtLeast = 0.2 },
		"qds threshold":        func(p *Policy) { *p.Rules[1].When.QDSAtLeast = 91 },
		"threat intel dropped": func(p *Policy) { p.Rules[1].When.ThreatIntel = p.Rules[1].When.ThreatIntel[1:] },
		"kev false":            func(p *Policy) { *p.Rules[0].When.KEV = false },
		"ransomware added":     func(p *Policy) { p.Rules[0].When.KEVRansomware = b(true) },
		"percentile added":     func(p *Policy) { p.Rules[1].When.PercentileAtLeast = f64(0.9) },
		"rating changed":       func(p *Policy) { p.Rules[2].When.RatingAtLeast = "Critical" },
		"tags added":           func(p *Policy) { p.Rules[2].When.Tags = []string{"PCI"} },
		"rules reordered":      func(p *Policy) { p.Rules[1], p.Rules[2] = p.Rules[2], p.Rules[1] },
		"days changed":         func(p *Policy) { p.Days[P1] = 15 },
		"days added":           func(p *Policy) { p.Days[P2] = 30 },
		"days removed":         func(p *Policy) { p.Days = nil },
		// A name moved between the two lists must not hash the same.
		"threat intel to tags": func(p *Policy) {
			p.Rules[1].When.ThreatIntel = p.Rules[1].When.ThreatIntel[:4]
			p.Rules[1].When.Tags = []string{"Wormable"}
		},
	}
	seen := map[string]string{base: "default"}
	for name, change := range changes {
		p := Default()
		change(&p)
		h := p.Hash()
		if other, dup := seen[h]; dup {
			t.Errorf("%s: hash %s is the same as %s", name, h, other)
		}
		seen[h] = name
	}
}

// FuzzEval: whatever the evidence, the default rules give a priority and
// a rule, and a due date that is "" or the breach date or a date no
// later than the contract allows.
func FuzzEval(f *testing.F) {
	f.Add(true, false, "2025-03-01", 0.1, 0.5, "Active_Attacks", 90, "High", at("2025-01-10"), "2025-02-09")
	f.Add(false, false, "", -1.0, 2.0, "", -5, "", int64(-86401), "x")
	f.Add(true, true, "2025-02-30", 1.0, 1.0, "wormable", 100, "critical", int64(0), "")
	p := Default()
	f.Fuzz(func(t *testing.T, kev, ransom bool, added string, epss, pct float64, ti string, qds int, rating string, first int64, breach string) {
		if first > 1<<40 || first < -(1<<40) {
			return // past year 9999: not a date the store writes
		}
		in := Input{KEV: kev, KEVRansomware: ransom, KEVDateAdded: added, EPSS: &epss, Percentile: &pct,
			ThreatIntel: []string{ti}, QDS: &qds, Rating: rating, FirstFound: first, BreachDate: breach}
		r := p.Eval(in)
		if Rank(r.Priority) > 3 || r.Reason == "" {
			t.Fatalf("Eval(%+v) = %+v", in, r)
		}
		if kev != (r.Priority == P1) {
			t.Fatalf("kev %v gives %s", kev, r.Priority)
		}
		if r.DueDate != "" && r.DueDate != breach {
			if _, ok := parseDate(r.DueDate); !ok {
				t.Fatalf("due date %q is not a date", r.DueDate)
			}
			if r.Priority != P1 {
				t.Fatalf("%s has no days but is due %q", r.Priority, r.DueDate)
			}
		}
		if r.DueDate == "" && breach != "" {
			t.Fatalf("breach date %q lost", breach)
		}
	})
}
