// Package gen holds qvt's deterministic generator of realistic Qualys and
// NVD data sets: KnowledgeBase entries, hosts with their detections, and
// NVD CVE records, plus writers that stream them in the wire formats
// (Qualys XML, NVD API 2.0 JSON).
//
// A Dataset never materialises its records. Each one is computed on demand
// from (seed, index, epoch), so a benchmark file of hundreds of megabytes is
// written in constant memory, and a local double of the Qualys and NVD APIs
// can serve any slice of the data set (a QID range, a batch of host IDs, a
// page of CVEs) at any point in time.
//
// Time advances in epochs of one day. Epoch 0 is Config.Start; every later
// epoch is one day on, and the data changes as a real subscription would:
// detections get fixed and re-opened, new detections and hosts appear, KB
// entries and CVE records are modified, new CVEs are published. Host(id, e)
// is always a continuation of Host(id, e-1). Epochs before 0 are treated
// as 0 (Now accepts them, to name earlier times).
package gen

import (
	"time"
)

// Config sizes a data set. Zero fields take the defaults given.
type Config struct {
	Seed              uint64
	QIDs              int       // KB size; default 5,000 (a full KB is ~150,000)
	Hosts             int       // hosts at epoch 0; default 500
	DetectionsPerHost int       // mean detections per host at epoch 0; default 40
	CVEs              int       // NVD records at epoch 0; default 20,000 (all of NVD is ~400,000)
	Start             time.Time // the data set's "now" at epoch 0; default 2026-11-01T00:00:00Z
	HistoryDays       int       // how far back before Start the detections of epoch 0 were first found; default 730
}

func (c Config) withDefaults() Config {
	if c.QIDs <= 0 {
		c.QIDs = 5000
	}
	if c.Hosts <= 0 {
		c.Hosts = 500
	}
	if c.DetectionsPerHost <= 0 {
		c.DetectionsPerHost = 40
	}
	if c.CVEs <= 0 {
		c.CVEs = 20000
	}
	if c.HistoryDays <= 0 {
		c.HistoryDays = 730
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	return c
}

// Dataset is a generated data set. Its methods are safe for concurrent use:
// after New it holds only read-only indexes.
type Dataset struct {
	cfg   Config
	seed  uint64
	start int64 // Unix seconds of Config.Start

	kb   kbIndex
	cves cveIndex

	hostsPerEpoch int // new hosts each epoch

	// Cumulative weights of the QID families for detections: per
	// operating system, and for Info detections.
	detFamilies [][]float64
	igFamilies  []float64

	risk *qidRisk // built on first use (risk.go)
}

// New builds the indexes of a data set: the QID list and the layout of CVE
// ids by year. Both are small (a few MB for the largest sizes); records
// themselves are computed when asked for.
func New(cfg Config) *Dataset {
	cfg = cfg.withDefaults()
	d := &Dataset{
		cfg:   cfg,
		seed:  mix(cfg.Seed ^ 0x5155414c5953), // "QUALYS": seed 0 is a seed like any other
		start: cfg.Start.Unix(),
		risk:  &qidRisk{},
	}
	d.kb = d.buildKB(cfg.QIDs)
	d.cves = d.buildCVEIndex(cfg.CVEs)
	d.hostsPerEpoch = max(1, (cfg.Hosts+100)/200) // ~0.5% a day
	d.buildDetectionWeights()
	return d
}

// Config returns the configuration the data set was built with, defaults
// filled in.
func (d *Dataset) Config() Config { return d.cfg }

// Now returns the data set's "now" at an epoch: Start plus epoch days. All
// timestamps of records as of an epoch are at or before it.
func (d *Dataset) Now(epoch int) time.Time {
	return time.Unix(d.now(epoch), 0).UTC()
}

func (d *Dataset) now(epoch int) int64 { return d.start + int64(epoch)*day }

// epochOf returns the epoch whose day holds t: the e with
// Now(e-1) < t ≤ Now(e).
func (d *Dataset) epochOf(t int64) int {
	return int(floorDiv(t-d.start+day-1, day))
}
