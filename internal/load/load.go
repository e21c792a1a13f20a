// Package load moves decoded Qualys and NVD records into the store: it
// tells input files apart by their content, streams each through its
// decoder into batched writes, keeps scores up to date (rescoring only the
// QIDs whose inputs changed) and derives each detection's rating and
// deadline as it is written. A whole load is one store transaction.
package load

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"qvt/internal/assess"
	"qvt/internal/environment"
	"qvt/internal/epss"
	"qvt/internal/guard"
	"qvt/internal/kev"
	"qvt/internal/nvd"
	"qvt/internal/priority"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/unixtime"
)

// Kind is the kind of an input file.
type Kind int

const (
	KindUnknown Kind = iota
	KindKB
	KindNVD
	KindKEV
	KindEPSS
	KindDetections
)

func (k Kind) String() string {
	switch k {
	case KindKB:
		return "Qualys KnowledgeBase"
	case KindNVD:
		return "NVD CVE data"
	case KindKEV:
		return "CISA KEV catalog"
	case KindEPSS:
		return "EPSS scores"
	case KindDetections:
		return "Qualys host detections"
	}
	return "unknown"
}

// Loader loads inputs into a store under a scoring policy.
type Loader struct {
	Policy assess.Policy
	// Priority is the priority rules and deadlines (docs/priority.md);
	// the zero Policy means priority.Default().
	Priority priority.Policy
	Log      *slog.Logger
	// Envs are the environment policies: the CVSS environmental metrics
	// of the hosts they match.
	Envs environment.Set
	// Now is the clock for changes that no data dates (rescoring after a
	// policy change, exceptions' expiry); clock.Now (QVT_NOW) when nil.
	Now func() time.Time
	// Limits bound what one input file can make the import read and hold;
	// zero fields take their defaults.
	Limits Limits
	// Owners are the ownership rules: every detection written gets the
	// owner they give it.
	Owners owners.Set
	// Exceptions is the exceptions policy: whether a finding that comes
	// back from an exception restarts its SLA clock.
	Exceptions exceptions.Policy

	// restarts are the findings whose SLA clock an ended exception
	// restarted (LoadRestarts): Rate counts their deadlines from then.
	restarts map[store.DetKey]int64
}

// Limits bound what one input file can make an import read and hold, so
// that a crafted file ends with an error instead of exhausting memory.
type Limits struct {
	Qualys qualys.Limits
	NVD    nvd.Limits
	KEV    kev.Limits
	EPSS   epss.Limits
	// A .gz input may decompress to at most GzipRatio times the compressed
	// bytes read so far, plus GzipFloor bytes. Real exports compress 10 to
	// 30 times; a crafted one (a "gzip bomb") a thousand times.
	GzipRatio int64
	GzipFloor int64
}

// DefaultLimits are the limits of an import that sets none.
var DefaultLimits = Limits{GzipRatio: 200, GzipFloor: 64 << 20}

func (l Limits) withDefaults() Limits {
	if l.GzipRatio <= 0 {
		l.GzipRatio = DefaultLimits.GzipRatio
	}
	if l.GzipFloor <= 0 {
		l.GzipFloor = DefaultLimits.GzipFloor
	}
	return l
}

func (l *Loader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return clock.Now()
}

func (l *Loader) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// Input is an opened input: its name for messages, its kind and its
// (decompressed) content.
type Input struct {
	Name string
	Kind Kind
	Gzip bool
	r    *bufio.Reader
	c    io.Closer
	lim  Limits
}

// Close closes the underlying file.
func (in *Input) Close() error {
	if in.c == nil {
		return nil
	}
	return in.c.Close()
}

// Open opens a file and tells its kind from its content, under
// DefaultLimits.
func Open(path string) (*Input, error) { return DefaultLimits.Open(path) }

// Open is Open under the limits l.
func (l Limits) Open(path string) (*Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in, err := l.Sniff(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	in.c = f
	return in, nil
}

// Sniff reads the start of r to tell its kind: gzip is unwrapped, then an
// XML root element names a Qualys document, and JSON is taken for NVD data
// (its decoder rejects JSON of another kind). It reads under DefaultLimits.
func Sniff(name string, r io.Reader) (*Input, error) { return DefaultLimits.Sniff(name, r) }

// Sniff is Sniff under the limits l.
func (l Limits) Sniff(name string, r io.Reader) (*Input, error) {
	l = l.withDefaults()
	in := &Input{Name: name, lim: l}
	compressed := &countingReader{r: r}
	br := bufio.NewReaderSize(compressed, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		in.Gzip = true
		br = bufio.NewReaderSize(&gzipLimit{r: gz, in: compressed, ratio: l.GzipRatio, floor: l.GzipFloor}, 256<<10)
	}
	in.r = br
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%s: %w", in.where(), err)
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(body) == 0 {
		return nil, fmt.Errorf("%s: empty file", in.where())
	}
	// CISA's KEV catalog names its version near the start (JSON) or
	// starts with its header (CSV); an EPSS file starts with its model
	// line or its header.
	switch {
	case body[0] == '{' && (bytes.Contains(head, []byte(`"catalogVersion"`)) || bytes.Contains(head, []byte(`"cveID"`))),
		bytes.HasPrefix(body, []byte("cveID,")), bytes.HasPrefix(body, []byte(`"cveID",`)):
		in.Kind = KindKEV
		return in, nil
	case bytes.HasPrefix(body, []byte("#model_version")), bytes.HasPrefix(body, []byte("cve,epss")):
		in.Kind = KindEPSS
		return in, nil
	}
	switch body[0] {
	case '{', '[':
		in.Kind = KindNVD
		return in, nil
	case '<':
		switch root := qualys.RootElement(head); root {
		case qualys.RootKB:
			in.Kind = KindKB
		case qualys.RootDetections:
			in.Kind = KindDetections
		case qualys.RootError:
			apiErr, err := qualys.DecodeSimpleReturn(br)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", in.where(), err)
			}
			if apiErr == nil {
				return nil, fmt.Errorf("%s: a Qualys SIMPLE_RETURN without an error code, not data", in.where())
			}
			return nil, fmt.Errorf("%s: the file is a Qualys error response: %w", in.where(), apiErr)
		case "":
			return nil, fmt.Errorf("%s: not a well-formed XML document (no root element in the first 64 KiB)", in.where())
		default:
			return nil, fmt.Errorf("%s: unsupported XML document <%s>: want a Qualys KnowledgeBase (%s) or host detection list (%s)",
				in.where(), root, qualys.RootKB, qualys.RootDetections)
		}
		return in, nil
	}
	return nil, fmt.Errorf("%s: not a Qualys XML, NVD JSON, CISA KEV or EPSS file (it starts with %q)", in.where(), abbreviate(body, 16))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// gzipLimit fails a decompressed stream that grows beyond ratio times the
// compressed bytes read, plus floor.
type gzipLimit struct {
	r            io.Reader
	in           *countingReader
	out          int64
	ratio, floor int64
}

func (g *gzipLimit) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.out += int64(n)
	if g.out > g.floor+g.ratio*g.in.n {
		return n, fmt.Errorf("gzip: expands more than %d times (limit gzip_ratio, beyond the first %d MiB)", g.ratio, g.floor>>20)
	}
	return n, err
}

// where names the input in messages; byte offsets in a gzip file count
// decompressed bytes.
func (in *Input) where() string {
	if in.Gzip {
		return in.Name + " (gzip, offsets in decompressed bytes)"
	}
	return in.Name
}

func abbreviate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Result tells what a load did.
type Result struct {
	Files []FileResult
	store.Stats
}

// FileResult tells what one input held.
type FileResult struct {
	Name    string
	Kind    Kind
	Records int   // vulns, CVEs or hosts
	Details int   // detections, for host files
	Seen    int64 // the time of the data of a host file (its DATETIME), Unix seconds
	// Changes are what a host file changed in the store: new findings,
	// those it fixed, reopened or closed, and those it left as they were.
	Changes store.ChangeCounts
}

// Files imports files into the store in one transaction: KB files first,
// then NVD files, then detections, so that detections are rated with
// up-to-date scores. On any error nothing is written.
func (l *Loader) Files(ctx context.Context, st *store.Store, paths []string) (_ Result, err error) {
	var inputs []*Input
	defer func() {
		for _, in := range inputs {
			in.Close()
		}
	}()
	for _, p := range paths {
		in, err := l.Limits.Open(p)
		if err != nil {
			return Result{}, err
		}
		inputs = append(inputs, in)
	}
	slices.SortStableFunc(inputs, func(a, b *Input) int { return int(a.Kind) - int(b.Kind) })
	// Into an empty store (a first import), the detections go in without
	// their secondary indexes, built once at the end of the transaction:
	// far cheaper than growing them row by row.
	if slices.ContainsFunc(inputs, func(in *Input) bool { return in.Kind == KindDetections }) {
		if err := st.DeferIndexes(ctx); err != nil {
			return Result{}, err
		}
		defer func() {
			// When the import failed: the store goes back to what it was,
			// indexes included.
			if berr := st.BuildIndexes(context.WithoutCancel(ctx)); berr != nil && err == nil {
				err = berr
			}
		}()
	}
	var res Result
	var written time.Time
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := l.CheckPolicy(tx); err != nil {
			return err
		}
		for _, in := range inputs {
			fr, err := l.Input(ctx, tx, in)
			if err != nil {
				return err
			}
			res.Files = append(res.Files, fr)
		}
		if err := l.Rescore(tx); err != nil {
			return err
		}
		if _, err := l.ApplyExceptions(tx); err != nil {
			return err
		}
		res.Stats = tx.Stats
		written = time.Now()
		return tx.BuildIndexes()
	})
	if err == nil && res.Stats.Detections > 0 {
		// The commit includes building the detection indexes a first
		// import drops, and SQLite's checkpoint of the WAL.
		l.log().Debug("detections written", "detections", res.Stats.Detections, "rescanned_unchanged", res.Stats.Rescanned,
			"commit", time.Since(written))
	}
	return res, err
}

// CheckPolicy queues everything for rescoring when the scoring policy or
// the environment policies differ from those the stored scores were made
// under; hosts are first reassigned to the environments they now match.
// Nothing is fetched again.
func (l *Loader) CheckPolicy(tx *store.Tx) error {
	if err := l.CheckOwners(tx); err != nil {
		return err
	}
	fp := l.Policy.Fingerprint() + "|" + l.Envs.Fingerprint() + "|" + l.priority().Hash()
	old, err := tx.Meta("scoring_policy")
	if err != nil {
		return err
	}
	if old == fp {
		return nil
	}
	n, err := tx.ReassignPolicies(func(id int64, ips, tags []string) int {
		return l.Envs.Match(environment.Host{ID: id, IPs: ips, Tags: tags})
	})
	if err != nil {
		return err
	}
	if old != "" {
		l.log().Info("scoring, environment or priority policy changed: rescoring every finding", "hosts_reassigned", n)
	}
	if err := tx.QueueAll(); err != nil {
		return err
	}
	return tx.SetMeta("scoring_policy", fp)
}

// CheckOwners assigns every finding its owner again when the ownership
// rules differ from those the stored owners were assigned under. Nothing
// is fetched again; each change of owner enters the history.
func (l *Loader) CheckOwners(tx *store.Tx) error {
	fp := l.Owners.Fingerprint()
	old, err := tx.Meta("owner_rules")
	if err != nil || old == fp {
		return err
	}
	n, err := tx.ReassignOwners(l.Owners, l.now().Unix())
	if err != nil {
		return err
	}
	if old != "" || n > 0 {
		l.log().Info("ownership rules changed: findings assigned again", "changed_owner", n)
	}
	return tx.SetMeta("owner_rules", fp)
}

// PutHosts writes a batch of hosts with their detections, and gives the
// detections their owners.
func (l *Loader) PutHosts(tx *store.Tx, hs []store.HostRecord, seen int64) error {
	if err := tx.PutHosts(hs, seen); err != nil {
		return err
	}
	if len(l.Owners) == 0 {
		return nil
	}
	hosts := make([]owners.Host, len(hs))
	for i, h := range hs {
		hosts[i] = store.OwnerHost(h.Host)
	}
	_, err := tx.AssignOwners(hosts, l.Owners, seen)
	return err
}

// LoadRestarts reads the findings whose SLA clock an ended exception
// restarted, for Rate: call it where the ratings are read.
func (l *Loader) LoadRestarts(tx *store.Tx) error {
	r, err := tx.SLARestarts()
	l.restarts = r
	return err
}

// ApplyExceptions records the exceptions that expired and marks the
// findings the active ones cover, as of now; every command that writes
// runs it. A finding that comes back restarts its SLA clock when the
// policy says so.
func (l *Loader) ApplyExceptions(tx *store.Tx) (store.ApplyResult, error) {
	var restart store.Restart
	if l.Exceptions.RestartSLA {
		restart = l.restartSLA
	}
	now := l.now()
	res, err := tx.ApplyExceptions(now, restart)
	if err != nil {
		return res, err
	}
	if len(res.Expired) > 0 || res.Excepted+res.Returned > 0 {
		l.log().Info("exceptions applied", "expired", len(res.Expired), "excepted", res.Excepted, "returned", res.Returned)
	}
	// Warned before, as a risk acceptance should be: each write says which
	// expire within exceptions.warn_days.
	by := now.UTC().AddDate(0, 0, l.Exceptions.WithDefaults().WarnDays).Format(time.DateOnly)
	var soon []string
	for _, e := range res.Active {
		if e.Until != "" && e.Until <= by {
			soon = append(soon, e.Name()+" "+e.Until)
		}
	}
	if len(soon) > 0 {
		l.log().Warn("exceptions expire soon: their findings come back after their last day", "exceptions", strings.Join(soon, ", "))
	}
	return res, nil
}

// restartSLA is a returning finding's deadline and due date counted from
// at, as Derive counts them from a finding's first detection.
func (l *Loader) restartSLA(rating, prio string, at time.Time) (string, string) {
	breach := assess.BreachDate(at.Unix(), rating, l.Policy)
	due := breach
	if days, ok := l.priority().Days[prio]; ok {
		d := at.UTC().AddDate(0, 0, days).Format(time.DateOnly)
		if breach == "" || d < breach {
			due = d
		}
	}
	return breach, due
}

// hostEnv is the environment policy id of a host.
func (l *Loader) hostEnv(h *qualys.Host) int {
	if len(l.Envs) == 0 {
		return 0
	}
	tags := make([]string, len(h.Tags))
	for i, t := range h.Tags {
		tags[i] = t.Name
	}
	return l.Envs.Match(environment.Host{ID: h.ID, IPs: []string{h.IP, h.IPv6}, Tags: tags})
}

// Input streams one opened input into the transaction.
func (l *Loader) Input(ctx context.Context, tx *store.Tx, in *Input) (FileResult, error) {
	fr := FileResult{Name: in.Name, Kind: in.Kind}
	var err error
	switch in.Kind {
	case KindKB:
		fr.Records, err = l.kb(ctx, tx, in.r, in.lim.Qualys)
	case KindNVD:
		fr.Records, err = l.nvd(ctx, tx, in.r, in.lim.NVD)
	case KindKEV:
		var res store.KEVResult
		res, err = l.KEV(tx, in.r, in.lim.KEV)
		fr.Records = res.Entries
	case KindEPSS:
		var res store.EPSSResult
		res, err = l.EPSS(tx, in.r, in.Name, in.lim.EPSS)
		fr.Records = res.Scores
	case KindDetections:
		// Detections are rated as they are written, from the scores as
		// they stand after everything loaded before them.
		if err = l.Rescore(tx); err != nil {
			break
		}
		var mark store.Mark
		if mark, err = tx.Mark(); err != nil {
			break
		}
		if fr.Records, fr.Details, fr.Seen, err = l.detections(ctx, tx, in.r, in.lim.Qualys); err == nil {
			fr.Changes, err = tx.ChangesSince(mark)
		}
	default:
		err = errors.New("unknown kind of input")
	}
	if err != nil {
		return fr, fmt.Errorf("%s: %w", in.where(), err)
	}
	l.log().Debug("loaded", "file", in.Name, "kind", in.Kind.String(), "records", fr.Records)
	return fr, nil
}

// batchWeight is how much travels from a decoder to the writer at a time,
// in records (a host counts its detections): enough to amortise the
// hand-off, little enough that the few batches in flight keep memory flat.
const batchWeight = 1024

// pipe runs decode in its own goroutine, handing batches to write in this
// one, so that decoding and writing overlap on two cores. Memory holds at
// most a few batches. weight tells how much a record counts.
func pipe[T any](ctx context.Context, log *slog.Logger, decode func(emit func(T) error) error, weight func(T) int, write func([]T) error) error {
	start := time.Now()
	var writing, waiting time.Duration
	defer func() {
		// Which side bounds the speed: the writer when it never waits.
		log.Debug("pipeline", "elapsed", time.Since(start), "writing", writing, "writer_waiting", waiting)
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan []T, 4)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		var batch []T
		w := 0
		emit := func(x T) error {
			batch = append(batch, x)
			if w += weight(x); w < batchWeight {
				return nil
			}
			w = 0
			select {
			case ch <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = nil
			return nil
		}
		err := guard.Call(func() error { return decode(emit) })
		if err == nil && len(batch) > 0 {
			select {
			case ch <- batch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		errc <- err
	}()
	var werr error
	for {
		t := time.Now()
		batch, ok := <-ch
		waiting += time.Since(t)
		if !ok {
			break
		}
		if werr != nil {
			continue // drain so the decoder can finish
		}
		t = time.Now()
		if werr = write(batch); werr != nil {
			cancel()
		}
		writing += time.Since(t)
	}
	derr := <-errc
	if werr != nil {
		return werr
	}
	return derr
}

func one[T any](T) int { return 1 }

func (l *Loader) kb(ctx context.Context, tx *store.Tx, r io.Reader, lim qualys.Limits) (int, error) {
	n := 0
	err := pipe(ctx, l.log(), func(emit func(*qualys.Vuln) error) error {
		_, err := lim.DecodeKB(r, emit)
		return err
	}, one, func(vs []*qualys.Vuln) error {
		n += len(vs)
		return tx.PutVulns(vs)
	})
	return n, err
}

func (l *Loader) nvd(ctx context.Context, tx *store.Tx, r io.Reader, lim nvd.Limits) (int, error) {
	n := 0
	err := pipe(ctx, l.log(), func(emit func(*nvd.CVE) error) error {
		_, err := lim.Decode(r, emit)
		return err
	}, one, func(cs []*nvd.CVE) error {
		n += len(cs)
		return tx.PutCVEs(cs)
	})
	return n, err
}

func (l *Loader) detections(ctx context.Context, tx *store.Tx, r io.Reader, lim qualys.Limits) (hosts, dets int, at int64, err error) {
	ratings, err := tx.Ratings()
	if err != nil {
		return 0, 0, 0, err
	}
	if err := l.LoadRestarts(tx); err != nil {
		return 0, 0, 0, err
	}
	// The response's DATETIME dates the data: it is the detections'
	// last_seen and the time of the changes they bring, so re-importing a
	// file changes nothing and an older file never overrides a newer one.
	var seen atomic.Int64
	err = pipe(ctx, l.log(), func(emit func(store.HostRecord) error) error {
		_, err := lim.DecodeDetectionsTimed(r, func(datetime string, h *qualys.Host) error {
			if seen.Load() == 0 {
				t, ok := unixtime.Parse(datetime)
				if !ok || t == 0 {
					t = l.now().Unix()
				}
				seen.Store(t)
			}
			rec, err := l.Rate(h, ratings)
			if err != nil {
				return err
			}
			return emit(rec)
		})
		return err
	}, func(h store.HostRecord) int { return 1 + len(h.Host.Detections) }, func(hs []store.HostRecord) error {
		hosts += len(hs)
		for _, h := range hs {
			dets += len(h.Host.Detections)
		}
		return l.PutHosts(tx, hs, seen.Load())
	})
	return hosts, dets, seen.Load(), err
}

// Rate derives the rating and deadline of each detection of a host, from
// the ratings of its QIDs (Tx.Ratings).
func (l *Loader) Rate(h *qualys.Host, ratings map[store.QIDKey]store.QIDRating) (store.HostRecord, error) {
	// In primary-key order, every insert appends to the table's last page;
	// of a QID reported on tcp and udp of one port, the most recently found
	// comes first and is the one kept.
	slices.SortStableFunc(h.Detections, func(a, b qualys.Detection) int {
		if a.QID != b.QID {
			return a.QID - b.QID
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		if c := strings.Compare(b.LastFound, a.LastFound); c != 0 {
			return c
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
	rec := store.HostRecord{Host: h, Derived: make([]store.Derived, len(h.Detections))}
	rec.Policy = l.hostEnv(h)
	var tags []string
	if l.priority().ReadsTags() {
		for _, t := range h.Tags {
			tags = append(tags, t.Name)
		}
	}
	for i := range h.Detections {
		d := &h.Detections[i]
		sc, ok := ratings[store.QIDKey{QID: d.QID, Policy: rec.Policy}]
		if !ok {
			sc = ratings[store.QIDKey{QID: d.QID}]
		}
		first, ok := unixtime.Parse(d.FirstFound)
		if !ok {
			return rec, fmt.Errorf("host %d qid %d: FIRST_FOUND_DATETIME %q is not a valid RFC 3339 time", h.ID, d.QID, d.FirstFound)
		}
		reopened, ok := unixtime.Parse(d.LastReopened)
		if !ok {
			return rec, fmt.Errorf("host %d qid %d: LAST_REOPENED_DATETIME %q is not a valid RFC 3339 time", h.ID, d.QID, d.LastReopened)
		}
		rec.Derived[i] = l.Derive(store.RateInput{QID: d.QID, Policy: rec.Policy, Severity: d.Severity,
			FirstFound: first, LastReopened: reopened, Score: sc, QDS: d.QDS, Tags: tags,
			Restart: l.restarts[store.DetKey{HostID: h.ID, QID: d.QID, Port: d.Port}]})
		rec.Derived[i].Extra = store.DetectionExtra(d)
	}
	return rec, nil
}

// Derive is a detection's rating and deadline, and its priority, due
// date and their sort key (docs/priority.md).
func (l *Loader) Derive(in store.RateInput) store.Derived {
	sev := in.Severity
	if sev == 0 {
		sev = in.Score.KBSeverity
	}
	rating := in.Score.Rating
	if rating == "" {
		rating = assess.SeverityRating(sev)
	}
	start := assess.SLAStart(in.FirstFound, in.LastReopened, in.Score.Published, l.Policy)
	first := in.FirstFound
	if in.Restart > start {
		// An exception that ended restarted the clock (restart_sla).
		start, first = in.Restart, in.Restart
	}
	d := store.Derived{VulnScore: rating, BreachDate: assess.BreachDate(start, rating, l.Policy)}
	pin := priority.Input{Rating: rating, FirstFound: first, BreachDate: d.BreachDate, Tags: in.Tags}
	if in.QDS > 0 {
		q := in.QDS
		pin.QDS = &q
	}
	if r := in.Score.Risk; r != nil {
		pin.KEV, pin.KEVRansomware, pin.KEVDateAdded = r.KEV, r.KEVRansomware, r.KEVDateAdded
		pin.EPSS, pin.Percentile, pin.ThreatIntel = r.EPSS, r.Percentile, r.ThreatIntel
	}
	res := l.priority().Eval(pin)
	d.Priority, d.PriorityReason, d.DueDate = res.Priority, res.Reason, res.DueDate
	d.Urgency = priority.Urgency(pin.KEV, pin.EPSS, in.Score.Env)
	// The cause is kept only with a change of priority or due date (the
	// store compares); on an import the store's old priority is not at
	// hand, and the cause reads the new evidence alone.
	d.Cause = priority.Cause(in.OldPriority, in.OldReason, pin, res)
	return d
}

// defaultPriority is built once: Derive runs for every detection.
var defaultPriority = priority.Default()

// priority is the loader's priority policy.
func (l *Loader) priority() priority.Policy {
	if len(l.Priority.Rules) == 0 {
		return defaultPriority
	}
	return l.Priority
}

// Rescore scores the queued QIDs under every environment policy in use,
// rerates their detections and empties the queue; the changes it makes are
// dated now.
func (l *Loader) Rescore(tx *store.Tx) error {
	return l.RescoreAt(tx, l.now().Unix())
}

// RescoreAt is Rescore with the changes dated at (Unix seconds): a sync
// dates them with its start on the server's clock, like the rest of its
// changes.
func (l *Loader) RescoreAt(tx *store.Tx, at int64) error {
	n, err := tx.Queued()
	if err != nil || n == 0 {
		return err
	}
	// Every QID is scored under every environment policy, used or not:
	// a host that comes to match one is rated as it is written.
	err = tx.ScoreInputs(func(in *assess.QIDInput) error {
		for p := 0; p <= len(l.Envs); p++ {
			s := assess.ScoreQID(*in, l.Policy, l.Envs.Overrides(p))
			if s.VectorError != "" && !s.HasVector {
				l.log().Debug("no usable CVSS vector", "qid", in.QID, "reason", s.VectorError)
			}
			if err := tx.PutScore(p, &s, in.Severity, in.Published); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// What KEV, EPSS and threat intel say of the queued QIDs, then their
	// findings' ratings and priorities.
	if err := tx.Reassess(func(_ int, cves []priority.CVEFacts, ti []string) priority.Risk {
		return priority.QIDRisk(cves, ti)
	}); err != nil {
		return err
	}
	if err := tx.Rerate(l.Derive, at, l.priority().ReadsTags()); err != nil {
		return err
	}
	l.log().Debug("rescored", "qids", n)
	return tx.ClearQueue()
}
