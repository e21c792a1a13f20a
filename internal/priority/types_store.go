package priority

// Placeholder of the package's types that the store uses, until the
// package lands; replaced by priority.go.

type Input struct {
	KEV, KEVRansomware bool
	KEVDateAdded       string
	EPSS, Percentile   *float64
	ThreatIntel        []string
	QDS                *int
	Rating             string
	Tags               []string
	FirstFound         int64
	BreachDate         string
}

type Result struct{ Priority, Reason, DueDate string }

type CVEFacts struct {
	CVE                      string
	InKEV                    bool
	KEVDateAdded, KEVDueDate string
	Ransomware               bool
	EPSS, Percentile         *float64
}

type Risk struct {
	KEV                      bool
	KEVCVEs                  []string
	KEVDateAdded, KEVDueDate string
	KEVRansomware            bool
	EPSS, Percentile         *float64
	EPSSCVE                  string
	ThreatIntel              []string
}
