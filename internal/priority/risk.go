package priority

// CVEFacts is what the feeds say of one CVE of a QID.
type CVEFacts struct {
	CVE                      string
	InKEV                    bool
	KEVDateAdded, KEVDueDate string // YYYY-MM-DD
	Ransomware               bool   // knownRansomwareCampaignUse is Known
	EPSS, Percentile         *float64
}

// Risk is a QID's exploitation evidence: the finding fields of the
// contract that come from its CVEs and its KB entry.
type Risk struct {
	KEV                      bool
	KEVCVEs                  []string // in KB order; nil when not KEV
	KEVDateAdded, KEVDueDate string   // the earliest of the KEV CVEs; "" when not KEV
	KEVRansomware            bool
	EPSS, Percentile         *float64 // of the CVE with the highest EPSS; nil when EPSS knows none
	EPSSCVE                  string
	ThreatIntel              []string // the KB's names, in KB order
}

// QIDRisk combines the facts of a QID's CVEs, in the KB's CVE_LIST order:
// any CVE in KEV makes the QID KEV, not only the primary one, and the
// highest EPSS of them is the QID's, ties going to the CVE listed first.
func QIDRisk(cves []CVEFacts, threatIntel []string) Risk {
	var r Risk
	for i := range cves {
		c := &cves[i]
		if c.InKEV && !contains(r.KEVCVEs, c.CVE) {
			r.KEV = true
			r.KEVCVEs = append(r.KEVCVEs, c.CVE)
			r.KEVDateAdded = earliest(r.KEVDateAdded, c.KEVDateAdded)
			r.KEVDueDate = earliest(r.KEVDueDate, c.KEVDueDate)
			r.KEVRansomware = r.KEVRansomware || c.Ransomware
		}
		if c.EPSS != nil && (r.EPSS == nil || *c.EPSS > *r.EPSS) {
			e := *c.EPSS
			r.EPSS, r.EPSSCVE, r.Percentile = &e, c.CVE, nil
			if c.Percentile != nil {
				p := *c.Percentile
				r.Percentile = &p
			}
		}
	}
	if len(threatIntel) > 0 {
		r.ThreatIntel = append([]string(nil), threatIntel...)
	}
	return r
}

// earliest is the earlier of two YYYY-MM-DD dates, "" being none.
func earliest(a, b string) string {
	if a == "" || (b != "" && b < a) {
		return b
	}
	return a
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
