// Package pull syncs the store with the Qualys and NVD APIs: NVD's CVE
// records, the Qualys KnowledgeBase and the host detections, fully on the
// first run and incrementally after, without missing late publications
// (watermarks overlap), resuming an interrupted run where it stopped, and
// advancing watermarks only when a whole sync succeeds.
package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/load"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
	"qvt/internal/runs"
	"qvt/internal/store"
)

// Qualys is what a sync needs of the Qualys API client.
type Qualys interface {
	HostIDs(ctx context.Context, params url.Values) ([]int64, error)
	KBIDs(ctx context.Context, params url.Values) ([]int, error)
	KB(ctx context.Context, params url.Values, fn func(*qualys.Vuln) error) (qualys.Response, error)
	Detections(ctx context.Context, params url.Values, fn func(*qualys.Host) error) (qualys.Response, error)
}

// NVD is what a sync needs of the NVD API client.
type NVD interface {
	CVEs(ctx context.Context, q nvd.Query, fn func(*nvd.CVE) error) (nvd.Result, error)
}

// KEV is what a sync needs of the KEV feed's client.
type KEV interface {
	Fetch(ctx context.Context) (*kev.Catalog, error)
}

// EPSS is what a sync needs of the EPSS feed's client: a retried download
// calls header again before its rows.
type EPSS interface {
	Fetch(ctx context.Context, header func(epss.Header) error, fn func(epss.Score) error) error
}

// Options tune a sync.
type Options struct {
	Full      bool          // fetch everything, ignoring watermarks
	Overlap   time.Duration // watermarks are moved back this much, so late publications are not missed (default 24h)
	KBMaxAge  time.Duration // a full KB sync runs when the last one is older (default 7 days)
	BatchSize int           // host IDs per detection batch (default 1000)
	KBRange   int           // QIDs per KB request in a full KB sync (default 5000)
	Workers   int           // batches fetched at once; the client's governor keeps within Qualys' limits (default 4)
	SkipNVD   bool
	SkipKEV   bool
	SkipEPSS  bool
	SkipKB    bool // detections only (benchmarks, and stores kept current by KB imports)
	// AccountChecked: the caller ran CheckAccount (before opening the
	// store, so that a failed check leaves no store behind).
	AccountChecked bool
}

func (o *Options) defaults() {
	if o.Overlap == 0 {
		o.Overlap = 24 * time.Hour
	}
	if o.KBMaxAge == 0 {
		o.KBMaxAge = 7 * 24 * time.Hour
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.KBRange <= 0 {
		o.KBRange = 5000
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

// Progress receives what a sync is doing, for bars on a terminal or log
// lines elsewhere.
type Progress interface {
	Start(phase string, total int) // total 0: unknown
	Add(phase string, n int)
	Done(phase string, err error) // err: the phase failed
}

type noProgress struct{}

func (noProgress) Start(string, int)  {}
func (noProgress) Add(string, int)    {}
func (noProgress) Done(string, error) {}

// Syncer runs syncs.
type Syncer struct {
	Store     *store.Store
	Qualys    Qualys
	QualysURL string // the API's base URL, for errors that name a request
	NVD       NVD
	KEV       KEV  // nil: no KEV phase
	EPSS      EPSS // nil: no EPSS phase
	Loader    *load.Loader
	Log       *slog.Logger
	Progress  Progress
	Now       func() time.Time
	// Stop, when it closes, stops the run at its next commit: the
	// batches in flight end and are committed, no further batch or phase
	// starts, and Run returns ErrStopped. The next run resumes. (A
	// cancelled context stops sooner: the fetches in flight are cut.)
	Stop <-chan struct{}

	noQDS atomic.Bool // the subscription refuses show_qds
}

// Result tells what a sync did.
type Result struct {
	RunID      int64
	Kind       string // full or incremental
	Resumed    bool
	CVEs       int
	KEV        store.KEVResult
	EPSS       store.EPSSResult
	KBFull     bool
	Vulns      int
	Hosts      int
	Detections int
	Missing    int      // QIDs fetched because detections named them
	Batches    int      // detection batches fetched in this run
	Skipped    int      // batches a resumed run did not fetch again
	Finished   []string // phases the interrupted run had finished, not fetched again
	Rescored   int
	Start      time.Time    // server time the watermarks will count from
	Phases     []runs.Phase // what each phase this run fetched took, in order
}

// ErrStopped is Run's error when Stop closed: the run stopped at a
// commit, and the next one resumes.
var ErrStopped = errors.New("stopped at a commit")

// stopped tells whether Stop has closed.
func (s *Syncer) stopped() bool {
	select {
	case <-s.Stop:
		return true
	default:
		return false
	}
}

// timed runs one phase and appends its timing to res.Phases; records is
// what the phase fetched, read after it ran.
func (s *Syncer) timed(res *Result, name string, records func() int, f func() error) error {
	if s.stopped() {
		return ErrStopped
	}
	p := runs.Phase{Name: name, Started: time.Now()}
	err := f()
	p.Duration = time.Since(p.Started)
	p.Records = records()
	if err != nil {
		p.Err, p.ErrKind = err.Error(), runs.ErrKind(err)
	}
	res.Phases = append(res.Phases, p)
	return err
}

// Watermark names in the store.
const (
	stateDetections = "detections.watermark" // Qualys server time at the start of the last successful detection sync
	stateKBFull     = "kb.full_at"           // Qualys server time of the last successful full KB sync
	stateNVD        = "nvd.watermark"        // time of the last successful NVD sync
	stateQDS        = "detections.qds"       // "unsupported" once the subscription refused show_qds
)

// runParams is what a run asks for; a resumed run asks the same.
type runParams struct {
	Start           string `json:"start"`            // server time at the start (RFC 3339)
	DetectionsAfter string `json:"detections_after"` // vm_processed_after, "" for all
	KBFull          bool   `json:"kb_full"`
	KBModifiedAfter string `json:"kb_modified_after"`
	NVDAfter        string `json:"nvd_after"`   // "" for everything
	ServerTime      bool   `json:"server_time"` // Start is the server's clock (else this machine's, until a response tells)
	// Phases the run finished: a resumed run does not fetch them again.
	NVDDone  bool   `json:"nvd_done,omitempty"`
	NVDMark  string `json:"nvd_mark,omitempty"` // the NVD watermark the finished phase gives
	KBDone   bool   `json:"kb_done,omitempty"`
	KEVDone  bool   `json:"kev_done,omitempty"`
	EPSSDone bool   `json:"epss_done,omitempty"`
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Syncer) progress() Progress {
	if s.Progress == nil {
		return noProgress{}
	}
	return s.Progress
}

// Run runs one sync.
func (s *Syncer) Run(ctx context.Context, opt Options) (res Result, err error) {
	opt.defaults()
	// Credentials, account and platform are checked before anything else
	// is fetched or written: a first NVD sync takes minutes.
	if !opt.AccountChecked {
		if err := CheckAccount(ctx, s.Qualys); err != nil {
			return res, err
		}
	}
	// A changed scoring or environment policy rescores what is stored
	// before anything new arrives.
	if err := s.Store.Write(ctx, s.Loader.CheckPolicy); err != nil {
		return res, err
	}
	kind := "incremental"
	watermark, err := s.Store.State(ctx, stateDetections)
	if err != nil {
		return res, err
	}
	if opt.Full || watermark == "" {
		kind = "full"
	}
	res.Kind = kind
	r, resumed, err := s.openRun(ctx, kind, opt, watermark)
	if err != nil {
		return res, err
	}
	res.RunID, res.Resumed = r.id, resumed
	defer func() {
		ferr := s.Store.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			return tx.FinishRun(r.id, err, s.now())
		})
		if err == nil {
			err = ferr
		}
	}()
	if resumed {
		s.log().Info("resuming the interrupted sync", "run", r.id, "kind", kind)
	}
	nvdMark := ""
	if !opt.SkipNVD && s.NVD != nil {
		if r.p.NVDDone {
			nvdMark = r.p.NVDMark
			res.Finished = append(res.Finished, "NVD")
			s.log().Info("NVD: the interrupted sync finished this phase; not fetched again")
		} else {
			if err := s.timed(&res, "nvd", func() int { return res.CVEs }, func() (err error) {
				res.CVEs, nvdMark, err = s.syncNVD(ctx, r)
				return err
			}); err != nil {
				return res, fmt.Errorf("NVD: %w", err)
			}
			if err := s.phaseDone(ctx, r, func(p *runParams) { p.NVDDone, p.NVDMark = true, nvdMark }); err != nil {
				return res, err
			}
		}
	}
	// KEV and EPSS are stored whole, each in one transaction; their QIDs
	// are rescored with the rest at the end.
	if !opt.SkipKEV && s.KEV != nil {
		if r.p.KEVDone {
			res.Finished = append(res.Finished, "KEV")
		} else {
			if err := s.timed(&res, "kev", func() int { return res.KEV.Entries }, func() (err error) {
				res.KEV, err = s.syncKEV(ctx)
				return err
			}); err != nil {
				return res, fmt.Errorf("KEV: %w", err)
			}
			if err := s.phaseDone(ctx, r, func(p *runParams) { p.KEVDone = true }); err != nil {
				return res, err
			}
		}
	}
	if !opt.SkipEPSS && s.EPSS != nil {
		if r.p.EPSSDone {
			res.Finished = append(res.Finished, "EPSS")
		} else {
			if err := s.timed(&res, "epss", func() int { return res.EPSS.Scores }, func() (err error) {
				res.EPSS, err = s.syncEPSS(ctx)
				return err
			}); err != nil {
				return res, fmt.Errorf("EPSS: %w", err)
			}
			if err := s.phaseDone(ctx, r, func(p *runParams) { p.EPSSDone = true }); err != nil {
				return res, err
			}
		}
	}
	if !opt.SkipKB {
		if r.p.KBDone {
			res.Finished = append(res.Finished, "KnowledgeBase")
			s.log().Info("KnowledgeBase: the interrupted sync finished this phase; not fetched again")
		} else {
			if err := s.timed(&res, "kb", func() int { return res.Vulns }, func() (err error) {
				res.Vulns, err = s.syncKB(ctx, r, opt)
				return err
			}); err != nil {
				return res, fmt.Errorf("KnowledgeBase: %w", err)
			}
			if err := s.phaseDone(ctx, r, func(p *runParams) { p.KBDone = true }); err != nil {
				return res, err
			}
		}
		res.KBFull = r.p.KBFull
	}
	if err := s.timed(&res, "detections", func() int { return res.Detections }, func() error {
		return s.syncDetections(ctx, r, opt, &res)
	}); err != nil {
		return res, fmt.Errorf("detections: %w", err)
	}
	if s.stopped() {
		return res, ErrStopped
	}
	if !opt.SkipKB {
		if res.Missing, err = s.syncMissingQIDs(ctx); err != nil {
			return res, fmt.Errorf("KnowledgeBase (QIDs missing from it): %w", err)
		}
	}
	res.Start, _ = time.Parse(time.RFC3339, r.p.Start)
	// Scores follow the KB and NVD changes; then, the whole sync having
	// succeeded, the watermarks move.
	err = s.Store.Write(ctx, func(tx *store.Tx) error {
		if err := s.Loader.RescoreAt(tx, res.Start.Unix()); err != nil {
			return err
		}
		if _, err := s.Loader.ApplyExceptions(tx); err != nil {
			return err
		}
		res.Rescored = tx.Stats.Scored
		if err := r.saveParams(tx); err != nil {
			return err
		}
		kv := map[string]string{stateDetections: r.p.Start}
		if r.p.KBFull && !opt.SkipKB {
			// The age of the full KB is this machine's policy: its clock.
			kv[stateKBFull] = s.now().UTC().Format(time.RFC3339)
		}
		if nvdMark != "" {
			kv[stateNVD] = nvdMark
		}
		if s.noQDS.Load() {
			kv[stateQDS] = "unsupported"
		} else {
			kv[stateQDS] = ""
		}
		return tx.SetState(kv)
	})
	return res, err
}

// CheckAccount makes one cheap authenticated call (the host list of one
// id): wrong credentials, a locked account or a wrong platform fail here,
// in seconds, before anything is fetched or written. Run makes it first.
func CheckAccount(ctx context.Context, q Qualys) error {
	if _, err := q.HostIDs(ctx, url.Values{"ids": {"1"}}); err != nil {
		return fmt.Errorf("checking the Qualys account: %w", err)
	}
	return nil
}

// phaseDone records in the run that a phase finished, so that a resumed
// run does not fetch it again.
func (s *Syncer) phaseDone(ctx context.Context, r *run, set func(*runParams)) error {
	r.mu.Lock()
	set(&r.p)
	r.dirty = true
	r.mu.Unlock()
	// Also when interrupted now: the phase's data is in the store.
	return s.Store.Write(context.WithoutCancel(ctx), r.saveParams)
}

// openRun resumes the unfinished run of this kind, or starts one: it
// decides what each phase fetches and records it, so that a resumed run
// asks for exactly the same.
func (s *Syncer) openRun(ctx context.Context, kind string, opt Options, watermark string) (*run, bool, error) {
	if prev, err := s.Store.OpenRun(ctx, kind); err != nil {
		return nil, false, err
	} else if prev != nil {
		r := &run{id: prev.ID}
		if err := json.Unmarshal([]byte(prev.Params), &r.p); err == nil && r.p.Start != "" {
			return r, true, nil
		}
	}
	r := &run{p: runParams{Start: s.now().UTC().Format(time.RFC3339)}}
	if kind == "incremental" {
		r.p.DetectionsAfter = before(watermark, opt.Overlap)
	}
	kbFull, err := s.Store.State(ctx, stateKBFull)
	if err != nil {
		return nil, false, err
	}
	maxMod, err := s.Store.MaxKBModified(ctx)
	if err != nil {
		return nil, false, err
	}
	if t, err := time.Parse(time.RFC3339, kbFull); opt.Full || maxMod == "" || err != nil || s.now().Sub(t) > opt.KBMaxAge {
		r.p.KBFull = true
	} else {
		r.p.KBModifiedAfter = before(maxMod, opt.Overlap)
	}
	if !opt.Full {
		nvdMark, err := s.Store.State(ctx, stateNVD)
		if err != nil {
			return nil, false, err
		}
		r.p.NVDAfter = before(nvdMark, opt.Overlap)
	}
	err = s.Store.Write(ctx, func(tx *store.Tx) error {
		params, _ := json.Marshal(r.p)
		var err error
		r.id, err = tx.StartRun(kind, string(params), s.now())
		return err
	})
	return r, false, err
}

// before moves an RFC 3339 watermark back by the overlap; "" stays "".
func before(mark string, overlap time.Duration) string {
	if mark == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, mark)
	if err != nil {
		return ""
	}
	return t.Add(-overlap).UTC().Format(time.RFC3339)
}

// run is the state of a run in progress.
type run struct {
	id    int64
	mu    sync.Mutex
	p     runParams
	dirty bool // p changed since it was last written to the store
}

// noteServerTime makes the run's start the server's clock: the first time
// a Qualys response tells it, and whenever a response tells an earlier
// time. Watermarks then compare server times with server times, whatever
// this machine's clock says. It is written to the store with the next
// batch (a transaction of its own here would wait on the one writing).
func (s *Syncer) noteServerTime(r *run, datetime string) {
	t, err := time.Parse(time.RFC3339, datetime)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, err := time.Parse(time.RFC3339, r.p.Start); r.p.ServerTime && err == nil && !t.Before(cur) {
		return
	}
	r.p.Start = t.UTC().Format(time.RFC3339)
	r.p.ServerTime = true
	r.dirty = true
}

// saveParams writes the run's parameters in tx if they changed.
func (r *run) saveParams(tx *store.Tx) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty {
		return nil
	}
	params, _ := json.Marshal(r.p)
	if err := tx.SetRunParams(r.id, string(params)); err != nil {
		return err
	}
	r.dirty = false
	return nil
}

// syncNVD fetches the CVE records changed since the NVD watermark (all of
// them the first time) and returns the new watermark: NVD's own time at
// the first page.
func (s *Syncer) syncNVD(ctx context.Context, r *run) (n int, mark string, err error) {
	p := r.p
	q := nvd.Query{}
	if p.NVDAfter != "" {
		t, err := time.Parse(time.RFC3339, p.NVDAfter)
		if err == nil {
			q.LastModStart = t
			q.LastModEnd = s.now().UTC()
		}
	}
	pr := s.progress()
	pr.Start("NVD CVEs", 0)
	defer func() { pr.Done("NVD CVEs", err) }()
	// NVD records are upserts: committing every few thousand keeps
	// transactions small, and a sync interrupted before the phase ends
	// fetches NVD again from the unchanged watermark.
	var batch []*nvd.CVE
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.Store.Write(ctx, func(tx *store.Tx) error { return tx.PutCVEs(batch) })
		pr.Add("NVD CVEs", len(batch))
		batch = batch[:0]
		return err
	}
	res, err := s.NVD.CVEs(ctx, q, func(c *nvd.CVE) error {
		n++
		batch = append(batch, c)
		if len(batch) >= 2000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, "", err
	}
	s.log().Info("NVD synced", "records", n, "since", p.NVDAfter)
	return n, nvdTime(res.Timestamp, s.now()), nil
}

// syncKEV fetches CISA's catalog and stores it when its version is new.
func (s *Syncer) syncKEV(ctx context.Context) (res store.KEVResult, err error) {
	pr := s.progress()
	pr.Start("KEV catalog", 0)
	defer func() { pr.Done("KEV catalog", err) }()
	c, err := s.KEV.Fetch(ctx)
	if err != nil {
		return res, err
	}
	pr.Add("KEV catalog", len(c.Entries))
	err = s.Store.Write(ctx, func(tx *store.Tx) error {
		res, err = s.Loader.PutKEV(tx, c)
		return err
	})
	if errors.Is(err, store.ErrOlder) {
		s.log().Warn("KEV: the catalog served is older than the stored one; kept the stored catalog", "error", err)
		return store.KEVResult{Unchanged: true}, nil
	}
	if err != nil {
		return res, err
	}
	if res.Unchanged {
		s.log().Info("KEV catalog unchanged", "version", c.Version)
	} else {
		s.log().Info("KEV synced", "version", c.Version, "entries", res.Entries, "added", res.Added,
			"changed", res.Changed, "removed", res.Removed, "qids", res.QIDs)
	}
	return res, nil
}

// syncEPSS fetches the day's EPSS scores into the store, streaming: the
// file is never held.
func (s *Syncer) syncEPSS(ctx context.Context) (res store.EPSSResult, err error) {
	pr := s.progress()
	pr.Start("EPSS scores", 0)
	defer func() { pr.Done("EPSS scores", err) }()
	err = s.Store.Write(ctx, func(tx *store.Tx) error {
		res, err = s.Loader.PutEPSS(tx, func(header func(epss.Header) error, fn func(epss.Score) error) error {
			n := 0
			err := s.EPSS.Fetch(ctx, header, func(sc epss.Score) error {
				if n++; n%10000 == 0 {
					pr.Add("EPSS scores", 10000)
				}
				return fn(sc)
			})
			pr.Add("EPSS scores", n%10000)
			return err
		}, "")
		return err
	})
	if errors.Is(err, store.ErrOlder) {
		// A mirror a day behind: what the store holds is newer.
		s.log().Warn("EPSS: the file served is older than the stored one; kept the stored scores", "error", err)
		return store.EPSSResult{}, nil
	}
	if err != nil {
		return res, err
	}
	s.log().Info("EPSS synced", "scores", res.Scores, "changed", res.Changed, "removed", res.Removed, "qids", res.QIDs)
	return res, nil
}

// nvdTime reads NVD's timestamp ("2023-05-05T13:58:53.240", UTC without a
// zone) as RFC 3339; this machine's clock if there is none.
func nvdTime(ts string, now time.Time) string {
	for _, layout := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(layout, ts); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return now.UTC().Format(time.RFC3339)
}

func (s *Syncer) syncKB(ctx context.Context, r *run, opt Options) (n int, err error) {
	p, runID := r.p, r.id
	pr := s.progress()
	if !p.KBFull {
		pr.Start("KnowledgeBase", 0)
		defer func() { pr.Done("KnowledgeBase", err) }()
		params := url.Values{"details": {"All"}, "last_modified_after": {p.KBModifiedAfter}}
		err := s.writeStream(ctx, func(emit func(*qualys.Vuln) error) error {
			resp, err := s.Qualys.KB(ctx, params, emit)
			s.noteServerTime(r, resp.Datetime)
			return err
		}, func(tx *store.Tx, vs []*qualys.Vuln) error {
			n += len(vs)
			pr.Add("KnowledgeBase", len(vs))
			if err := r.saveParams(tx); err != nil {
				return err
			}
			return tx.PutVulns(vs)
		})
		if err != nil {
			return n, err
		}
		s.log().Info("KnowledgeBase synced", "changed_since", p.KBModifiedAfter, "records", n)
		return n, nil
	}
	batches, err := s.Store.Batches(ctx, runID, "kb")
	if err != nil {
		return 0, err
	}
	if len(batches) == 0 {
		ids, err := s.Qualys.KBIDs(ctx, url.Values{})
		if err != nil {
			return 0, err
		}
		specs := ranges(ids, opt.KBRange)
		if err := s.Store.Write(ctx, func(tx *store.Tx) error { return tx.AddBatches(runID, "kb", specs) }); err != nil {
			return 0, err
		}
		if batches, err = s.Store.Batches(ctx, runID, "kb"); err != nil {
			return 0, err
		}
	}
	pr.Start("KnowledgeBase", len(batches))
	defer func() { pr.Done("KnowledgeBase", err) }()
	job := &batchJob[*qualys.Vuln]{
		store: s.Store, runID: runID, phase: "kb", workers: opt.Workers, halt: s.Stop,
		fetch: func(ctx context.Context, spec string, emit func(*qualys.Vuln) error) error {
			lo, hi, _ := strings.Cut(spec, "-")
			params := url.Values{"details": {"All"}, "id_min": {lo}, "id_max": {hi}}
			asked := parseIDs(spec)
			resp, err := s.Qualys.KB(ctx, params, func(v *qualys.Vuln) error {
				if !asked.has(int64(v.QID)) {
					return s.notAsked(qualys.EndpointKB, params, "QID", int64(v.QID))
				}
				return emit(v)
			})
			s.noteServerTime(r, resp.Datetime)
			return err
		},
		write: func(tx *store.Tx, vs []*qualys.Vuln) error {
			n += len(vs)
			if err := r.saveParams(tx); err != nil {
				return err
			}
			return tx.PutVulns(vs)
		},
		weight:   func(*qualys.Vuln) int { return 1 },
		progress: func(int) { pr.Add("KnowledgeBase", 1) },
	}
	if err := job.run(ctx, batches); err != nil {
		return n, err
	}
	s.log().Info("KnowledgeBase synced in full", "records", n, "ranges", len(batches))
	return n, nil
}

// ranges cuts sorted QIDs into id_min-id_max ranges of about n QIDs.
func ranges(ids []int, n int) []string {
	var out []string
	for i := 0; i < len(ids); i += n {
		j := min(i+n, len(ids)) - 1
		out = append(out, strconv.Itoa(ids[i])+"-"+strconv.Itoa(ids[j]))
	}
	return out
}

func (s *Syncer) syncDetections(ctx context.Context, r *run, opt Options, res *Result) (err error) {
	r.mu.Lock()
	p, runID := r.p, r.id
	r.mu.Unlock()
	// Everything this run writes is data of its start time: last_seen of
	// the detections and the time of the changes they bring.
	seen := time.Now().Unix()
	if t, err := time.Parse(time.RFC3339, p.Start); err == nil {
		seen = t.Unix()
	}
	batches, err := s.Store.Batches(ctx, runID, "detections")
	if err != nil {
		return err
	}
	if len(batches) == 0 {
		params := url.Values{}
		if p.DetectionsAfter != "" {
			params.Set("vm_processed_after", p.DetectionsAfter)
		}
		ids, err := s.Qualys.HostIDs(ctx, params)
		if err != nil {
			return err
		}
		slices.Sort(ids)
		specs := hostBatches(ids, opt.BatchSize)
		if err := s.Store.Write(ctx, func(tx *store.Tx) error { return tx.AddBatches(runID, "detections", specs) }); err != nil {
			return err
		}
		if batches, err = s.Store.Batches(ctx, runID, "detections"); err != nil {
			return err
		}
	}
	for _, b := range batches {
		if b.Done {
			res.Skipped++
		} else {
			res.Batches++
		}
	}
	pr := s.progress()
	pr.Start("host detections", len(batches))
	pr.Add("host detections", res.Skipped)
	defer func() { pr.Done("host detections", err) }()
	ratings := map[store.QIDKey]store.QIDRating{}
	if err := s.Store.Write(ctx, func(tx *store.Tx) error {
		if err := s.Loader.RescoreAt(tx, seen); err != nil {
			return err
		}
		var err error
		if ratings, err = tx.Ratings(); err != nil {
			return err
		}
		return s.Loader.LoadRestarts(tx)
	}); err != nil {
		return err
	}
	// Into an empty store (a first sync), the detections go in without
	// their secondary indexes, built once at the end: far cheaper than
	// growing them row by row over a transaction per batch.
	if err := s.Store.DeferIndexes(ctx); err != nil {
		return err
	}
	defer func() {
		// Also when the sync failed: the store stays whole; a resumed
		// sync adds the rest row by row.
		if berr := s.Store.BuildIndexes(context.WithoutCancel(ctx)); berr != nil && err == nil {
			err = berr
		}
	}()
	// QDS and its factors are asked for unless the subscription refused
	// them before (a full sync asks again).
	qdsState, err := s.Store.State(ctx, stateQDS)
	if err != nil {
		return err
	}
	s.noQDS.Store(qdsState == "unsupported" && !opt.Full)
	job := &batchJob[store.HostRecord]{
		store: s.Store, runID: runID, phase: "detections", workers: opt.Workers, halt: s.Stop,
		fetch: func(ctx context.Context, spec string, emit func(store.HostRecord) error) error {
			params := url.Values{
				"ids":                {spec},
				"status":             {"New,Active,Re-Opened,Fixed"},
				"show_reopened_info": {"1"},
				"show_tags":          {"1"},
				"include_ignored":    {"1"},
				"include_disabled":   {"1"},
				"truncation_limit":   {strconv.Itoa(opt.BatchSize)},
			}
			withQDS := !s.noQDS.Load()
			if withQDS {
				params.Set("show_qds", "1")
				params.Set("show_qds_factors", "1")
			}
			if p.DetectionsAfter != "" {
				params.Set("vm_processed_after", p.DetectionsAfter)
			}
			asked := parseIDs(spec)
			each := func(h *qualys.Host) error {
				if !asked.has(h.ID) {
					return s.notAsked(qualys.EndpointDetections, params, "host", h.ID)
				}
				rec, err := s.Loader.Rate(h, ratings)
				if err != nil {
					return err
				}
				return emit(rec)
			}
			resp, err := s.Qualys.Detections(ctx, params, each)
			if withQDS && qdsRefused(err) {
				// Said once; then every batch goes without.
				if !s.noQDS.Swap(true) {
					s.log().Warn("the Qualys subscription refuses QDS (show_qds): detections are fetched without it, and priorities do without QDS", "error", err)
				}
				params.Del("show_qds")
				params.Del("show_qds_factors")
				resp, err = s.Qualys.Detections(ctx, params, each)
			}
			s.noteServerTime(r, resp.Datetime)
			return err
		},
		write: func(tx *store.Tx, hs []store.HostRecord) error {
			if err := r.saveParams(tx); err != nil {
				return err
			}
			res.Hosts += len(hs)
			for _, h := range hs {
				res.Detections += len(h.Host.Detections)
			}
			return s.Loader.PutHosts(tx, hs, seen)
		},
		weight:   func(h store.HostRecord) int { return 1 + len(h.Host.Detections) },
		progress: func(int) { pr.Add("host detections", 1) },
	}
	return job.run(ctx, batches)
}

// qdsRefused tells Qualys' refusal of the QDS parameters: a request
// error (1901 unrecognized, or 1905 invalid) that names them.
func qdsRefused(err error) bool {
	var ae *qualys.APIError
	return errors.As(err, &ae) && (ae.Code == 1901 || ae.Code == 1905) && strings.Contains(strings.ToLower(ae.Text), "qds")
}

// hostBatches cuts sorted host IDs into batches of n, each written as a
// Qualys ids value with consecutive runs as ranges ("1-5,9,12-14").
func hostBatches(ids []int64, n int) []string {
	var out []string
	for i := 0; i < len(ids); i += n {
		out = append(out, idList(ids[i:min(i+n, len(ids))]))
	}
	return out
}

func idList(ids []int64) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(ids[i], 10))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(ids[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// idRanges are the ids a request asked for, as sorted, disjoint ranges.
type idRanges [][2]int64

// parseIDs reads an ids value written by idList ("1-5,9,12-14").
func parseIDs(spec string) idRanges {
	var out idRanges
	for part := range strings.SplitSeq(spec, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil {
				continue
			}
		}
		out = append(out, [2]int64{a, b})
	}
	return out
}

func (rs idRanges) has(id int64) bool {
	i, _ := slices.BinarySearchFunc(rs, id, func(r [2]int64, id int64) int {
		switch {
		case r[1] < id:
			return -1
		case r[0] > id:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i][0] <= id && id <= rs[i][1]
}

// notAsked is the error for a record a request did not ask for: a server
// that answers more than it was asked must not fill the store.
func (s *Syncer) notAsked(endpoint string, params url.Values, what string, id int64) error {
	q := strings.ReplaceAll(params.Encode(), "%2C", ",")
	return fmt.Errorf("%s%s?%s answered %s %d, which was not asked for",
		strings.TrimRight(s.QualysURL, "/"), endpoint, abbreviate(q, 120), what, id)
}

func (s *Syncer) syncMissingQIDs(ctx context.Context) (int, error) {
	missing, err := s.Store.MissingQIDs(ctx)
	if err != nil || len(missing) == 0 {
		return 0, err
	}
	n := 0
	for i := 0; i < len(missing); i += 500 {
		chunk := missing[i:min(i+500, len(missing))]
		ids := make([]int64, len(chunk))
		for k, q := range chunk {
			ids[k] = int64(q)
		}
		err := s.writeStream(ctx, func(emit func(*qualys.Vuln) error) error {
			spec := idList(ids)
			params := url.Values{"details": {"All"}, "ids": {spec}}
			asked := parseIDs(spec)
			_, err := s.Qualys.KB(ctx, params, func(v *qualys.Vuln) error {
				if !asked.has(int64(v.QID)) {
					return s.notAsked(qualys.EndpointKB, params, "QID", int64(v.QID))
				}
				return emit(v)
			})
			return err
		}, func(tx *store.Tx, vs []*qualys.Vuln) error {
			n += len(vs)
			return tx.PutVulns(vs)
		})
		if err != nil {
			return n, err
		}
	}
	s.log().Info("fetched QIDs the KB lacked", "asked", len(missing), "found", n)
	return n, nil
}

// writeStream writes a stream of upserts in transactions of a few
// thousand records: an interruption loses no consistency (they are
// upserts and the watermark has not moved).
func (s *Syncer) writeStream(ctx context.Context, fetch func(emit func(*qualys.Vuln) error) error, write func(*store.Tx, []*qualys.Vuln) error) error {
	var batch []*qualys.Vuln
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.Store.Write(ctx, func(tx *store.Tx) error { return write(tx, batch) })
		batch = batch[:0]
		return err
	}
	err := fetch(func(v *qualys.Vuln) error {
		batch = append(batch, v)
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}
