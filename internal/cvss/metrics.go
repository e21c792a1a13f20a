package cvss

// The metric tables of each CVSS version: abbreviations, human names and
// allowed values, in the canonical order of the specifications. They drive
// validation (so that the library is only ever handed values it accepts),
// the rebuilding of canonical vectors, and Metrics.
//
// The value lists must stay equal to what go-cvss's Set accepts for each
// version; TestTablesMatchLibrary checks this.

// Group names, as returned in Metric.Group.
const (
	groupBase          = "Base"
	groupTemporal      = "Temporal" // v2 and v3.x
	groupThreat        = "Threat"   // v4.0's name for its temporal group
	groupEnvironmental = "Environmental"
	groupSupplemental  = "Supplemental" // v4.0 only, never scored
)

type valueDef struct {
	abbr, name string
}

type metricDef struct {
	abbr, name, group string
	values            []valueDef
}

// spec describes one CVSS version.
type spec struct {
	version    string // "2.0", "3.0", "3.1", "4.0"
	header     string // "CVSS:3.1/"; "" for v2, whose vectors carry none
	notDefined string // "ND" (v2) or "X" (v3, v4)
	metrics    []metricDef
	index      map[string]int // abbreviation → position in metrics
}

func newSpec(version, header, notDefined string, metrics []metricDef) *spec {
	s := &spec{version: version, header: header, notDefined: notDefined, metrics: metrics,
		index: make(map[string]int, len(metrics))}
	for i, m := range metrics {
		s.index[m.abbr] = i
	}
	return s
}

// valueName returns the human name of value for metric i, and whether the
// value is allowed at all.
func (s *spec) valueName(i int, value string) (string, bool) {
	for _, v := range s.metrics[i].values {
		if v.abbr == value {
			return v.name, true
		}
	}
	return "", false
}

// allowed lists the values of metric i, for error messages.
func (s *spec) allowed(i int) string {
	out := ""
	for j, v := range s.metrics[i].values {
		if j > 0 {
			out += ","
		}
		out += v.abbr
	}
	return out
}

var (
	notDefND = valueDef{"ND", "Not Defined"} // v2
	notDefX  = valueDef{"X", "Not Defined"}  // v3, v4
)

// v2: FIRST CVSS v2 guide, section 2.
var v2Metrics = []metricDef{
	{"AV", "Access Vector", groupBase, []valueDef{{"L", "Local"}, {"A", "Adjacent Network"}, {"N", "Network"}}},
	{"AC", "Access Complexity", groupBase, []valueDef{{"H", "High"}, {"M", "Medium"}, {"L", "Low"}}},
	{"Au", "Authentication", groupBase, []valueDef{{"M", "Multiple"}, {"S", "Single"}, {"N", "None"}}},
	{"C", "Confidentiality Impact", groupBase, v2Impact},
	{"I", "Integrity Impact", groupBase, v2Impact},
	{"A", "Availability Impact", groupBase, v2Impact},
	{"E", "Exploitability", groupTemporal, []valueDef{{"U", "Unproven"}, {"POC", "Proof-of-Concept"}, {"F", "Functional"}, {"H", "High"}, notDefND}},
	{"RL", "Remediation Level", groupTemporal, []valueDef{{"OF", "Official Fix"}, {"TF", "Temporary Fix"}, {"W", "Workaround"}, {"U", "Unavailable"}, notDefND}},
	{"RC", "Report Confidence", groupTemporal, []valueDef{{"UC", "Unconfirmed"}, {"UR", "Uncorroborated"}, {"C", "Confirmed"}, notDefND}},
	{"CDP", "Collateral Damage Potential", groupEnvironmental, []valueDef{{"N", "None"}, {"L", "Low"}, {"LM", "Low-Medium"}, {"MH", "Medium-High"}, {"H", "High"}, notDefND}},
	{"TD", "Target Distribution", groupEnvironmental, []valueDef{{"N", "None"}, {"L", "Low"}, {"M", "Medium"}, {"H", "High"}, notDefND}},
	{"CR", "Confidentiality Requirement", groupEnvironmental, v2Requirement},
	{"IR", "Integrity Requirement", groupEnvironmental, v2Requirement},
	{"AR", "Availability Requirement", groupEnvironmental, v2Requirement},
}

var (
	v2Impact      = []valueDef{{"N", "None"}, {"P", "Partial"}, {"C", "Complete"}}
	v2Requirement = []valueDef{{"L", "Low"}, {"M", "Medium"}, {"H", "High"}, notDefND}
)

// v3.0 and v3.1 share their metrics (FIRST v3.1 specification, section 2-4).
var v3Metrics = []metricDef{
	{"AV", "Attack Vector", groupBase, []valueDef{{"N", "Network"}, {"A", "Adjacent Network"}, {"L", "Local"}, {"P", "Physical"}}},
	{"AC", "Attack Complexity", groupBase, []valueDef{{"L", "Low"}, {"H", "High"}}},
	{"PR", "Privileges Required", groupBase, []valueDef{{"N", "None"}, {"L", "Low"}, {"H", "High"}}},
	{"UI", "User Interaction", groupBase, []valueDef{{"N", "None"}, {"R", "Required"}}},
	{"S", "Scope", groupBase, []valueDef{{"U", "Unchanged"}, {"C", "Changed"}}},
	{"C", "Confidentiality", groupBase, v3Impact},
	{"I", "Integrity", groupBase, v3Impact},
	{"A", "Availability", groupBase, v3Impact},
	{"E", "Exploit Code Maturity", groupTemporal, []valueDef{notDefX, {"H", "High"}, {"F", "Functional"}, {"P", "Proof-of-Concept"}, {"U", "Unproven"}}},
	{"RL", "Remediation Level", groupTemporal, []valueDef{notDefX, {"U", "Unavailable"}, {"W", "Workaround"}, {"T", "Temporary Fix"}, {"O", "Official Fix"}}},
	{"RC", "Report Confidence", groupTemporal, []valueDef{notDefX, {"C", "Confirmed"}, {"R", "Reasonable"}, {"U", "Unknown"}}},
	{"CR", "Confidentiality Requirement", groupEnvironmental, requirement},
	{"IR", "Integrity Requirement", groupEnvironmental, requirement},
	{"AR", "Availability Requirement", groupEnvironmental, requirement},
	{"MAV", "Modified Attack Vector", groupEnvironmental, []valueDef{notDefX, {"N", "Network"}, {"A", "Adjacent Network"}, {"L", "Local"}, {"P", "Physical"}}},
	{"MAC", "Modified Attack Complexity", groupEnvironmental, []valueDef{notDefX, {"L", "Low"}, {"H", "High"}}},
	{"MPR", "Modified Privileges Required", groupEnvironmental, []valueDef{notDefX, {"N", "None"}, {"L", "Low"}, {"H", "High"}}},
	{"MUI", "Modified User Interaction", groupEnvironmental, []valueDef{notDefX, {"N", "None"}, {"R", "Required"}}},
	{"MS", "Modified Scope", groupEnvironmental, []valueDef{notDefX, {"U", "Unchanged"}, {"C", "Changed"}}},
	{"MC", "Modified Confidentiality", groupEnvironmental, modImpact},
	{"MI", "Modified Integrity", groupEnvironmental, modImpact},
	{"MA", "Modified Availability", groupEnvironmental, modImpact},
}

var (
	v3Impact    = []valueDef{{"H", "High"}, {"L", "Low"}, {"N", "None"}}
	modImpact   = []valueDef{notDefX, {"H", "High"}, {"L", "Low"}, {"N", "None"}}
	requirement = []valueDef{notDefX, {"H", "High"}, {"M", "Medium"}, {"L", "Low"}}
)

// v4.0: FIRST CVSS v4.0 specification, sections 2-4.
var v4Metrics = []metricDef{
	{"AV", "Attack Vector", groupBase, []valueDef{{"N", "Network"}, {"A", "Adjacent"}, {"L", "Local"}, {"P", "Physical"}}},
	{"AC", "Attack Complexity", groupBase, []valueDef{{"L", "Low"}, {"H", "High"}}},
	{"AT", "Attack Requirements", groupBase, []valueDef{{"N", "None"}, {"P", "Present"}}},
	{"PR", "Privileges Required", groupBase, []valueDef{{"N", "None"}, {"L", "Low"}, {"H", "High"}}},
	{"UI", "User Interaction", groupBase, []valueDef{{"N", "None"}, {"P", "Passive"}, {"A", "Active"}}},
	{"VC", "Vulnerable System Confidentiality Impact", groupBase, v3Impact},
	{"VI", "Vulnerable System Integrity Impact", groupBase, v3Impact},
	{"VA", "Vulnerable System Availability Impact", groupBase, v3Impact},
	{"SC", "Subsequent System Confidentiality Impact", groupBase, v3Impact},
	{"SI", "Subsequent System Integrity Impact", groupBase, v3Impact},
	{"SA", "Subsequent System Availability Impact", groupBase, v3Impact},
	{"E", "Exploit Maturity", groupThreat, []valueDef{notDefX, {"A", "Attacked"}, {"P", "POC"}, {"U", "Unreported"}}},
	{"CR", "Confidentiality Requirement", groupEnvironmental, requirement},
	{"IR", "Integrity Requirement", groupEnvironmental, requirement},
	{"AR", "Availability Requirement", groupEnvironmental, requirement},
	{"MAV", "Modified Attack Vector", groupEnvironmental, []valueDef{notDefX, {"N", "Network"}, {"A", "Adjacent"}, {"L", "Local"}, {"P", "Physical"}}},
	{"MAC", "Modified Attack Complexity", groupEnvironmental, []valueDef{notDefX, {"L", "Low"}, {"H", "High"}}},
	{"MAT", "Modified Attack Requirements", groupEnvironmental, []valueDef{notDefX, {"N", "None"}, {"P", "Present"}}},
	{"MPR", "Modified Privileges Required", groupEnvironmental, []valueDef{notDefX, {"N", "None"}, {"L", "Low"}, {"H", "High"}}},
	{"MUI", "Modified User Interaction", groupEnvironmental, []valueDef{notDefX, {"N", "None"}, {"P", "Passive"}, {"A", "Active"}}},
	{"MVC", "Modified Vulnerable System Confidentiality", groupEnvironmental, modImpact},
	{"MVI", "Modified Vulnerable System Integrity", groupEnvironmental, modImpact},
	{"MVA", "Modified Vulnerable System Availability", groupEnvironmental, modImpact},
	{"MSC", "Modified Subsequent System Confidentiality", groupEnvironmental, modImpact},
	{"MSI", "Modified Subsequent System Integrity", groupEnvironmental, modSafety},
	{"MSA", "Modified Subsequent System Availability", groupEnvironmental, modSafety},
	{"S", "Safety", groupSupplemental, []valueDef{notDefX, {"N", "Negligible"}, {"P", "Present"}}},
	{"AU", "Automatable", groupSupplemental, []valueDef{notDefX, {"N", "No"}, {"Y", "Yes"}}},
	{"R", "Recovery", groupSupplemental, []valueDef{notDefX, {"A", "Automatic"}, {"U", "User"}, {"I", "Irrecoverable"}}},
	{"V", "Value Density", groupSupplemental, []valueDef{notDefX, {"D", "Diffuse"}, {"C", "Concentrated"}}},
	{"RE", "Vulnerability Response Effort", groupSupplemental, []valueDef{notDefX, {"L", "Low"}, {"M", "Moderate"}, {"H", "High"}}},
	{"U", "Provider Urgency", groupSupplemental, []valueDef{notDefX, {"Clear", "Clear"}, {"Green", "Green"}, {"Amber", "Amber"}, {"Red", "Red"}}},
}

var modSafety = []valueDef{notDefX, {"S", "Safety"}, {"H", "High"}, {"L", "Low"}, {"N", "None"}}

var (
	spec20 = newSpec("2.0", "", "ND", v2Metrics)
	spec30 = newSpec("3.0", "CVSS:3.0/", "X", v3Metrics)
	spec31 = newSpec("3.1", "CVSS:3.1/", "X", v3Metrics)
	spec40 = newSpec("4.0", "CVSS:4.0/", "X", v4Metrics)
)
