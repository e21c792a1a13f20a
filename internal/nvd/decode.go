package nvd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Document formats reported in Info.Format.
const (
	// FormatAPI is an NVD API 2.0 response or an NVD 2.0 feed file. Both use
	// one schema and carry the same header, so they cannot be told apart.
	FormatAPI = "api2.0"
	// FormatRecord is a single record: a bare cve object or {"cve":{…}}.
	FormatRecord = "record"
	// FormatFKIE is a fkie-cad/nvd-json-data-feeds release file.
	FormatFKIE = "fkie"
	// FormatFeed11 is a legacy NVD JSON 1.1 feed.
	FormatFeed11 = "feed1.1"
)

// Info describes a decoded document.
type Info struct {
	Format string // one of the Format constants
	// TotalResults, StartIndex and ResultsPerPage are the API 2.0 paging
	// fields. They are zero when the document does not carry them.
	TotalResults, StartIndex, ResultsPerPage int
	Timestamp                                string // timestamp or CVE_data_timestamp, verbatim
}

// FormatError reports input that is malformed, truncated or not an NVD CVE
// document.
type FormatError struct {
	Offset int64  // byte offset in the input at (or just before) the problem
	Path   string // JSON path, e.g. "vulnerabilities[12].cve.metrics"; "" at top level
	ID     string // id of the record being decoded, when it was already read
	Err    error
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("nvd: byte ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	switch {
	case e.Path != "" && e.ID != "":
		fmt.Fprintf(&b, " (%s, %s)", e.Path, e.ID)
	case e.Path != "":
		fmt.Fprintf(&b, " (%s)", e.Path)
	case e.ID != "":
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid input")
	}
	return b.String()
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrNotNVD is wrapped by the FormatError returned for input that is not an
// NVD CVE document at all, e.g. well-formed JSON of another kind such as the
// CISA KEV catalog, or a compressed file.
var ErrNotNVD = errors.New("not an NVD CVE document")

// errTruncated is the Err of a FormatError for input that ends early. It
// matches io.ErrUnexpectedEOF under errors.Is.
var errTruncated error = truncatedError{}

type truncatedError struct{}

func (truncatedError) Error() string        { return "unexpected end of input" }
func (truncatedError) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// Decode reads NVD CVE JSON from r and calls fn once per CVE record, in
// input order, without holding the whole input in memory. It tells the
// accepted layouts apart by content, never by file name:
//   - an NVD API 2.0 response or NVD 2.0 feed file,
//     {"resultsPerPage":…, "vulnerabilities":[{"cve":{…}}, …]}, keys in any order;
//   - a single record as the public mirrors store it, a bare cve object
//     {"id":"CVE-…", …} or a wrapped one {"cve":{…}};
//   - the fkie-cad release layout {"timestamp":…, "cve_items":[bare cve objects]};
//   - the legacy NVD 1.1 feed {"CVE_data_type":"CVE", …, "CVE_Items":[…]}.
//
// fn may keep the *CVE it is given; a nil fn only checks the input. The
// records of a list are passed to fn as each one is complete, so fn may
// have seen some when Decode later fails; a single-record document is passed
// on only once the whole input has been checked. Duplicate records are
// passed each time they occur.
//
// Decode returns a *FormatError for malformed, truncated or wrong-kind input
// (the last wrapping ErrNotNVD, a truncation matching io.ErrUnexpectedEOF),
// an error returned by fn as it is, and read errors from r wrapped. The Info
// describes as much of the document as was read, also on error.
//
// Strings holding invalid UTF-8 are repaired with U+FFFD rather than
// rejected: one bad byte in a description should not stop the import of a
// whole feed. A leading UTF-8 byte order mark is skipped.
//
// Decode reads under DefaultLimits; a value over a limit ends it with a
// FormatError naming the limit.
func Decode(r io.Reader, fn func(*CVE) error) (Info, error) {
	return Limits{}.Decode(r, fn)
}

// Limits bound what one document can make Decode hold, so that a crafted
// file or answer ends with an error instead of exhausting memory. A zero
// field takes its value from DefaultLimits.
type Limits struct {
	String int // bytes of one string value qvt keeps (a description, a vector)
	// Value is the bytes the decoder may hold unread at once: the largest
	// value read whole, such as a record's configurations.
	Value int
}

// DefaultLimits are far above real NVD data: descriptions run to a few KB,
// and CVE-2021-44228's configurations, among the largest, are 100 KB.
var DefaultLimits = Limits{String: 1 << 20, Value: 16 << 20}

// Decode is Decode under the limits l.
func (l Limits) Decode(r io.Reader, fn func(*CVE) error) (Info, error) {
	if fn == nil {
		fn = func(*CVE) error { return nil }
	}
	if l.String <= 0 {
		l.String = DefaultLimits.String
	}
	if l.Value <= 0 {
		l.Value = DefaultLimits.Value
	}
	d := &decoder{fn: fn, strs: make(map[string]string), lim: l}
	d.in.r = r
	d.in.max = int64(l.Value)
	br := bufio.NewReaderSize(&d.in, 512) // large reads pass through it unbuffered
	if err := d.sniff(br); err != nil {
		return d.info, err
	}
	d.dec = jsontext.NewDecoder(br,
		// Duplicate-name tracking costs time and NVD does not repeat names;
		// invalid UTF-8 is repaired, not fatal (see above).
		jsontext.AllowDuplicateNames(true),
		jsontext.AllowInvalidUTF8(true),
	)
	d.in.dec = d.dec
	err := d.document()
	return d.info, err
}

// The intern table stops growing at maxInterned strings, and holds none
// longer than maxInternLen, so that it stays small whatever the input.
const (
	maxInterned  = 16384
	maxInternLen = 256
)

type decoder struct {
	dec  *jsontext.Decoder
	fn   func(*CVE) error
	info Info
	lim  Limits
	id   string // id of the record being decoded, for error messages
	skew int64  // bytes before the JSON text (a byte order mark)
	in   reader // the input, recording read errors

	strs map[string]string // interned repeated values (sources, vectors, CWEs …)
	ubuf []byte            // unquoting scratch
	desc []byte            // description candidate
}

// sniff skips a UTF-8 byte order mark and recognises compressed input, which
// would otherwise fail with a baffling "invalid character" error.
func (d *decoder) sniff(br *bufio.Reader) error {
	head, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
		d.skew = 3
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return d.errAt(0, "", fmt.Errorf("%w: input is gzip-compressed; decompress it first", ErrNotNVD))
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return d.errAt(0, "", fmt.Errorf("%w: input is xz-compressed; decompress it first", ErrNotNVD))
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return d.errAt(0, "", fmt.Errorf("%w: input is a zip archive; extract it first", ErrNotNVD))
	}
	return nil
}

// document decodes the top-level object. Its keys decide the layout; they
// may come in any order, so a bare record's fields are collected as they
// come and the decision is checked at the end.
func (d *decoder) document() error {
	k, err := d.peek()
	if err != nil {
		return err
	}
	if k != '{' {
		return d.errAt(d.valueOffset(), "", fmt.Errorf("%w: top-level JSON value is %s, want an object", ErrNotNVD, kindName(k)))
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.wrap(err)
	}

	var (
		list      string // the key holding the records: vulnerabilities, cve_items, CVE_Items or cve
		wrapped   *CVE   // record of a {"cve":{…}} document
		bare      CVE    // fields of a bare record document
		bareState recordState
		sawRecord bool // a bare record's field was seen at top level
		sawPaging bool // an API paging field was seen
	)
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(name) {
		case "vulnerabilities", "cve_items", "CVE_Items", "cve":
			if list != "" {
				return d.fail(fmt.Errorf("%w: both %q and %q at top level", ErrNotNVD, list, name))
			}
			list = string(name)
			switch list {
			case "vulnerabilities":
				d.info.Format = FormatAPI
				err = d.list(d.apiItem)
			case "cve_items":
				d.info.Format = FormatFKIE
				err = d.list(d.bareItem)
			case "CVE_Items":
				d.info.Format = FormatFeed11
				err = d.list(d.item11)
			case "cve":
				d.info.Format = FormatRecord
				wrapped = new(CVE)
				err = d.record(wrapped)
			}
		case "resultsPerPage":
			sawPaging = true
			d.info.ResultsPerPage, err = d.int()
		case "startIndex":
			sawPaging = true
			d.info.StartIndex, err = d.int()
		case "totalResults":
			sawPaging = true
			d.info.TotalResults, err = d.int()
		case "format":
			// The CVE API says "NVD_CVE"; its sibling APIs (CPE, CVE
			// history) share the envelope with another format value.
			if _, err = d.peek(); err != nil {
				break
			}
			off := d.valueOffset()
			var f []byte
			if f, _, err = d.str(); err == nil && f != nil && string(f) != "NVD_CVE" {
				err = d.errAt(off, "format", fmt.Errorf("%w: format %q, want \"NVD_CVE\"", ErrNotNVD, f))
			}
		case "timestamp", "CVE_data_timestamp":
			d.info.Timestamp, err = d.strVal()
		case "catalogVersion":
			// The CISA KEV catalog also has a "vulnerabilities" list; say
			// what it is rather than fail on its first element.
			err = d.fail(fmt.Errorf("%w: looks like the CISA KEV catalog", ErrNotNVD))
		default:
			// "id" and "published" alone are too common to mark a bare
			// record (OSV advisories have both); the other fields are NVD's.
			generic := string(name) == "id" || string(name) == "published"
			var handled bool
			handled, err = d.field(name, &bare, &bareState)
			switch {
			case handled && !generic:
				sawRecord = true
			case handled || err != nil:
			case bulkMember(name):
				// A bare record's bulk, bounded like any record's.
				err = d.skipWhole()
			default:
				err = d.skip()
			}
		}
		if err != nil {
			return err
		}
	}
	// Only whitespace may follow the document.
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return d.errAt(d.dec.InputOffset(), "", errors.New("unexpected data after the top-level object"))
		}
		return d.wrap(err)
	}

	if list != "" || !sawRecord {
		d.id = "" // a foreign document's "id" names nothing of NVD's
	}
	switch {
	case list != "" && sawRecord:
		return d.errAt(d.dec.InputOffset(), "", fmt.Errorf("%w: top-level %q next to record fields", ErrNotNVD, list))
	case wrapped != nil:
		return d.fn(wrapped)
	case list != "":
		return nil
	case sawRecord:
		d.info.Format = FormatRecord
		if err := d.finish(&bare, &bareState); err != nil {
			return err
		}
		return d.fn(&bare)
	case sawPaging:
		// An API page past the end may come without a vulnerabilities list.
		d.info.Format = FormatAPI
		return nil
	}
	return d.errAt(d.dec.InputOffset(), "", fmt.Errorf("%w: no vulnerabilities, cve_items, CVE_Items or CVE record fields", ErrNotNVD))
}

// bulkMember reports whether name is one of the record members that hold
// most of a record's bytes and that qvt does not keep.
func bulkMember(name []byte) bool {
	switch string(name) {
	case "configurations", "references", "vendorComments", "cveTags", "affected":
		return true
	}
	return false
}

// list decodes the array of records at hand, calling item for each element.
func (d *decoder) list(item func() error) error {
	if ok, err := d.openArray(); !ok {
		return err
	}
	for {
		more, err := d.more()
		if !more {
			return err
		}
		if err := item(); err != nil {
			return err
		}
	}
}

// apiItem decodes one {"cve":{…}} element of an API 2.0 vulnerabilities list.
func (d *decoder) apiItem() error {
	if err := d.object(); err != nil {
		return err
	}
	var c *CVE
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if string(name) == "cve" && c == nil {
			c = new(CVE)
			err = d.record(c)
		} else {
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if c == nil {
		return d.fail(fmt.Errorf("%w: list element has no \"cve\" object", ErrNotNVD))
	}
	return d.fn(c)
}

// bareItem decodes one bare record of a fkie cve_items list.
func (d *decoder) bareItem() error {
	c := new(CVE)
	if err := d.record(c); err != nil {
		return err
	}
	return d.fn(c)
}

// recordState holds what a record collects beyond CVE's own fields.
type recordState struct {
	kev     KEV
	hasKEV  bool
	haveEN  bool // Description holds an English description
	haveAny bool // Description holds some description
}

// record decodes one API 2.0 cve object into c.
func (d *decoder) record(c *CVE) error {
	if err := d.object(); err != nil {
		return err
	}
	d.id = ""
	var st recordState
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		handled, err := d.field(name, c, &st)
		if !handled && err == nil {
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	return d.finish(c, &st)
}

// finish checks a complete record and settles what st collected.
func (d *decoder) finish(c *CVE, st *recordState) error {
	if c.ID == "" {
		return d.fail(errors.New("record has no id"))
	}
	if st.hasKEV {
		kev := st.kev
		c.KEV = &kev
	}
	d.id = ""
	return nil
}

// field decodes the value of the record member name into c. It reports
// false, consuming nothing, for members qvt does not keep.
func (d *decoder) field(name []byte, c *CVE, st *recordState) (bool, error) {
	var err error
	switch string(name) {
	case "id":
		c.ID, err = d.strVal()
		d.id = c.ID
	case "sourceIdentifier":
		c.SourceIdentifier, err = d.internVal()
	case "published":
		c.Published, err = d.strVal()
	case "lastModified":
		c.LastModified, err = d.strVal()
	case "vulnStatus":
		c.Status, err = d.internVal()
	case "descriptions":
		err = d.descriptions(c, st)
	case "metrics":
		err = d.metrics(c)
	case "weaknesses":
		err = d.weaknesses(c)
	case "cisaExploitAdd":
		var b []byte
		b, st.hasKEV, err = d.str()
		st.kev.Added = d.string(b)
	case "cisaActionDue":
		st.kev.Due, err = d.strVal()
	case "cisaRequiredAction":
		st.kev.RequiredAction, err = d.strVal()
	case "cisaVulnerabilityName":
		st.kev.Name, err = d.strVal()
	default:
		return false, nil
	}
	return true, err
}

// descriptions decodes a [{"lang":…, "value":…}] list and keeps the first
// English value, or failing that the first value. Values that cannot be
// kept are skipped unread when their lang comes first, as it does in NVD
// data; this spares unquoting the \u-escaped Spanish text.
func (d *decoder) descriptions(c *CVE, st *recordState) error {
	if ok, err := d.openArray(); !ok {
		return err
	}
	for {
		more, err := d.more()
		if !more {
			return err
		}
		if err := d.object(); err != nil {
			return err
		}
		var isEN, langSeen, haveValue bool
		for {
			name, ok, err := d.name()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(name) {
			case "lang":
				var lang []byte
				lang, _, err = d.str()
				isEN, langSeen = string(lang) == "en", true
			case "value":
				if st.haveEN || (langSeen && !isEN && st.haveAny) {
					err = d.skip()
					break
				}
				var v []byte
				v, haveValue, err = d.str()
				d.desc = append(d.desc[:0], v...)
			default:
				err = d.skip()
			}
			if err != nil {
				return err
			}
		}
		if !haveValue || st.haveEN || (!isEN && st.haveAny) {
			continue
		}
		c.Description = string(d.desc)
		st.haveAny = true
		st.haveEN = isEN
	}
}

// weaknesses decodes [{"description":[{"lang":…, "value":"CWE-…"}]}] (2.0
// weaknesses and 1.1 problemtype_data alike) into c.CWEs.
func (d *decoder) weaknesses(c *CVE) error {
	return d.eachObject(func(name []byte) error {
		if string(name) != "description" {
			return d.skip()
		}
		return d.eachObject(func(name []byte) error {
			if string(name) != "value" {
				return d.skip()
			}
			v, _, err := d.str()
			if err != nil || len(v) == 0 {
				return err
			}
			for _, cwe := range c.CWEs {
				if cwe == string(v) {
					return nil
				}
			}
			c.CWEs = append(c.CWEs, d.intern(v))
			return nil
		})
	})
}

// eachObject decodes an array of objects (null counts as empty), calling
// member for each member of each; member must consume the value.
func (d *decoder) eachObject(member func(name []byte) error) error {
	if ok, err := d.openArray(); !ok {
		return err
	}
	for {
		more, err := d.more()
		if !more {
			return err
		}
		if err := d.object(); err != nil {
			return err
		}
		for {
			name, ok, err := d.name()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if err := member(name); err != nil {
				return err
			}
		}
	}
}

// metrics decodes the 2.0 metrics object. Keys other than the CVSS lists
// (e.g. "ssvcV203") are skipped.
func (d *decoder) metrics(c *CVE) error {
	if ok, err := d.openObject(); !ok {
		return err
	}
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		var version string
		switch string(name) {
		case "cvssMetricV40":
			version = "4.0"
		case "cvssMetricV31":
			version = "3.1"
		case "cvssMetricV30":
			version = "3.0"
		case "cvssMetricV2":
			version = "2.0"
		default:
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		if ok, err := d.openArray(); err != nil {
			return err
		} else if !ok {
			continue
		}
		for {
			more, err := d.more()
			if err != nil {
				return err
			}
			if !more {
				break
			}
			if err := d.metric(c, version, "cvssData", "baseSeverity"); err != nil {
				return err
			}
		}
	}
}

// metric decodes one CVSS entry and appends it to c.Metrics. dataKey names
// the member holding the CVSS data ("cvssData"; "cvssV3"/"cvssV2" in 1.1)
// and sevKey the entry-level severity, which is where v2 keeps it. An entry
// without CVSS data yields no Metric.
func (d *decoder) metric(c *CVE, version, dataKey, sevKey string) error {
	if err := d.object(); err != nil {
		return err
	}
	var (
		m        Metric
		outerSev string
		hasData  bool
	)
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(name) {
		case "source":
			m.Source, err = d.internVal()
		case "type":
			m.Type, err = d.internVal()
		case dataKey:
			hasData, err = d.cvssData(&m)
		case sevKey:
			outerSev, err = d.internVal()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if !hasData {
		return nil
	}
	m.Version = normVersion(m.Version, m.Vector, version)
	if outerSev != "" && (m.Version == "2.0" || m.Severity == "") {
		m.Severity = outerSev
	}
	c.Metrics = append(c.Metrics, m)
	return nil
}

// cvssData decodes a cvssData object into m; it reports false for null.
// m.Version is left as read; normVersion settles it.
func (d *decoder) cvssData(m *Metric) (bool, error) {
	if ok, err := d.openObject(); !ok {
		return false, err
	}
	for {
		name, ok, err := d.name()
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil
		}
		switch string(name) {
		case "version":
			m.Version, err = d.internVal()
		case "vectorString":
			m.Vector, err = d.internVal()
		case "baseScore":
			m.BaseScore, err = d.float()
		case "baseSeverity":
			m.Severity, err = d.internVal()
		default:
			err = d.skip()
		}
		if err != nil {
			return false, err
		}
	}
}

// normVersion returns the CVSS version of an entry as "2.0", "3.0", "3.1"
// or "4.0": from cvssData.version, else from the vector's "CVSS:x.y/"
// prefix, else the version its list implies.
func normVersion(version, vector, implied string) string {
	switch version {
	case "2.0", "2":
		return "2.0"
	case "3.0", "3":
		return "3.0"
	case "3.1":
		return "3.1"
	case "4.0", "4":
		return "4.0"
	}
	if rest, ok := strings.CutPrefix(vector, "CVSS:"); ok {
		if v, _, ok := strings.Cut(rest, "/"); ok && v != version {
			return normVersion(v, "", implied)
		}
	}
	return implied
}

// item11 decodes one CVE_Items element of a 1.1 feed.
func (d *decoder) item11() error {
	if err := d.object(); err != nil {
		return err
	}
	d.id = ""
	c := new(CVE)
	var st recordState
	for {
		name, ok, err := d.name()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(name) {
		case "cve":
			err = d.cve11(c, &st)
		case "impact":
			err = d.impact11(c)
		case "publishedDate":
			c.Published, err = d.strVal()
		case "lastModifiedDate":
			c.LastModified, err = d.strVal()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if err := d.finish(c, &st); err != nil {
		return err
	}
	return d.fn(c)
}

// cve11 decodes the "cve" member of a 1.1 item: CVE_data_meta (ID, and
// ASSIGNER as the source identifier), problemtype and description.
func (d *decoder) cve11(c *CVE, st *recordState) error {
	return d.members(func(name []byte) error {
		switch string(name) {
		case "CVE_data_meta":
			return d.members(func(name []byte) error {
				var err error
				switch string(name) {
				case "ID":
					c.ID, err = d.strVal()
					d.id = c.ID
				case "ASSIGNER":
					c.SourceIdentifier, err = d.internVal()
				default:
					err = d.skip()
				}
				return err
			})
		case "problemtype":
			return d.members(func(name []byte) error {
				if string(name) != "problemtype_data" {
					return d.skip()
				}
				return d.weaknesses(c)
			})
		case "description":
			return d.members(func(name []byte) error {
				if string(name) != "description_data" {
					return d.skip()
				}
				return d.descriptions(c, st)
			})
		}
		return d.skip()
	})
}

// impact11 decodes a 1.1 impact object. Its metrics are NVD's own, so they
// are Primary entries from nvd@nist.gov.
func (d *decoder) impact11(c *CVE) error {
	return d.members(func(name []byte) error {
		n := len(c.Metrics)
		var err error
		switch string(name) {
		case "baseMetricV3":
			err = d.metric(c, "3.0", "cvssV3", "baseSeverity")
		case "baseMetricV2":
			err = d.metric(c, "2.0", "cvssV2", "severity")
		default:
			return d.skip()
		}
		for i := n; i < len(c.Metrics); i++ {
			if c.Metrics[i].Source == "" {
				c.Metrics[i].Source = "nvd@nist.gov"
			}
			if c.Metrics[i].Type == "" {
				c.Metrics[i].Type = "Primary"
			}
		}
		return err
	})
}

// members decodes an object (null counts as empty), calling member for each
// member; member must consume the value.
func (d *decoder) members(member func(name []byte) error) error {
	if ok, err := d.openObject(); !ok {
		return err
	}
	for {
		name, ok, err := d.name()
		if err != nil || !ok {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
}
