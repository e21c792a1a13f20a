package priority

import "testing"

// The why of each change the store records, with the default rules: the
// old result and the new evidence, evaluated as the store does.
func TestCause(t *testing.T) {
	p := Default()
	ff := at("2025-01-10")
	for _, tc := range []struct {
		name       string
		oldP, oldR string
		in         Input
		wantP      string
		want       string
	}{
		{"added to KEV", P3, RuleSevere, Input{KEV: true, KEVDateAdded: "2025-03-01", Rating: "High", FirstFound: ff, BreachDate: "2025-02-09"},
			P1, "added to KEV 2025-03-01"},
		{"added to KEV from P2", P2, RuleLikelyExploited, Input{KEV: true, KEVDateAdded: "2025-03-01", EPSS: f64(0.4)}, P1, "added to KEV 2025-03-01"},
		{"left KEV", P1, RuleKnownExploited, Input{Rating: "High", FirstFound: ff}, P3, "left KEV"},
		{"left KEV, still likely exploited", P1, RuleKnownExploited, Input{EPSS: f64(0.5)}, P2, "left KEV"},
		{"EPSS rise", P4, RuleOther, Input{EPSS: f64(0.23), Rating: "Medium"}, P2, "EPSS 0.23"},
		{"EPSS rise over a severe rating", P3, RuleSevere, Input{EPSS: f64(0.10001), Rating: "Critical", QDS: i(40)}, P2, "EPSS 0.10001"},
		{"EPSS fall", P2, RuleLikelyExploited, Input{EPSS: f64(0.04), Rating: "High"}, P3, "EPSS 0.04"},
		{"EPSS fall to P4", P2, RuleLikelyExploited, Input{EPSS: f64(0.00043), Rating: "Low"}, P4, "EPSS 0.00043"},
		{"threat intel", P3, RuleSevere, Input{ThreatIntel: []string{"Exploit_Public", "Active_Attacks"}, EPSS: f64(0.2), Rating: "High"},
			P2, "threat intel Active_Attacks"},
		{"QDS rise", P4, RuleOther, Input{QDS: i(95), EPSS: f64(0.01)}, P2, "QDS 95"},
		{"QDS fall", P2, RuleLikelyExploited, Input{QDS: i(70), Rating: "Low"}, P4, "QDS 70"},
		{"threat intel gone", P2, RuleLikelyExploited, Input{ThreatIntel: []string{"Exploit_Public"}}, P4, "threat intel Exploit_Public"},
		{"no threat intel left", P2, RuleLikelyExploited, Input{}, P4, "no threat intel"},
		{"rating rise", P4, RuleOther, Input{Rating: "High", EPSS: f64(0.01)}, P3, "rating High"},
		{"rating fall", P3, RuleSevere, Input{Rating: "Medium", EPSS: f64(0.01)}, P4, "rating Medium"},
		{"first priority", "", "", Input{Rating: "Critical"}, P3, "rating Critical"},
		{"rule renamed", P3, "serious", Input{Rating: "High"}, P3, "rules changed"},
		{"one rule, another priority", P2, RuleSevere, Input{Rating: "High"}, P3, "rules changed"},
	} {
		r := p.Eval(tc.in)
		if r.Priority != tc.wantP {
			t.Fatalf("%s: the rules give %s, the case expects %s", tc.name, r.Priority, tc.wantP)
		}
		if got := Cause(tc.oldP, tc.oldR, tc.in, r); got != tc.want {
			t.Errorf("%s: Cause = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Changes of the due date alone, and changes no evidence explains.
func TestCauseOther(t *testing.T) {
	for _, tc := range []struct {
		name       string
		oldP, oldR string
		in         Input
		r          Result
		want       string
	}{
		{"the breach date moved", P3, RuleSevere, Input{Rating: "Critical", BreachDate: "2025-01-25"},
			Result{P3, RuleSevere, "2025-01-25"}, "breach date 2025-01-25"},
		{"the KEV entry's date was edited", P1, RuleKnownExploited, Input{KEV: true, KEVDateAdded: "2025-03-02", BreachDate: "2025-02-09"},
			Result{P1, RuleKnownExploited, "2025-03-16"}, "added to KEV 2025-03-02"},
		{"the days changed", P2, "hot", Input{EPSS: f64(0.3)}, Result{P2, "hot", "2025-02-10"}, "rules changed"},
		{"a rise no evidence explains", P4, "rest", Input{}, Result{P2, "new rule", ""}, "rules changed"},
		{"a P1 rule on EPSS", P3, RuleSevere, Input{EPSS: f64(0.6), Rating: "High"}, Result{P1, "hot", ""}, "EPSS 0.6"},
		{"a fall of a kev finding from P1", P1, "ransomware", Input{KEV: true}, Result{P2, "kev", ""}, "rules changed"},
	} {
		if got := Cause(tc.oldP, tc.oldR, tc.in, tc.r); got != tc.want {
			t.Errorf("%s: Cause = %q, want %q", tc.name, got, tc.want)
		}
	}
}
