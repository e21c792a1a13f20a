// Package kev holds CISA's Known Exploited Vulnerabilities catalog: its
// decoder (the JSON feed and the CSV file, told apart by content), its
// encoder (the JSON feed) and a client that downloads the feed.
//
// The whole catalog is about 1,500 entries and 1.3 MB, so Decode returns it
// in memory; Limits keep a crafted or runaway file from growing past that
// by orders of magnitude.
package kev

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultURL is CISA's JSON feed.
const DefaultURL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"

// Catalog is one release of the catalog.
type Catalog struct {
	// Title, Version and Released are the JSON feed's title,
	// catalogVersion ("2025.08.25") and dateReleased
	// ("2025-08-25T17:04:19.9796Z"), as the file writes them; the CSV file
	// has none of them, so they are "" when decoded from CSV.
	Title, Version, Released string
	Entries                  []Entry // in file order (CISA lists the newest first)
}

// Entry is one vulnerability of the catalog. Text fields are trimmed: real
// entries carry stray trailing spaces ("SimpleHelp ") that would otherwise
// look like edits between releases.
type Entry struct {
	CVE, VendorProject, Product, Name, DateAdded, Description, RequiredAction, DueDate string
	Ransomware                                                                         string // knownRansomwareCampaignUse: "Known" or "Unknown"
	Notes                                                                              string
	CWEs                                                                               []string
}

// Limits bound what one catalog may make Decode read and hold. A zero field
// takes its value from DefaultLimits.
type Limits struct {
	MaxBytes   int64 // bytes read, after any decompression by the caller
	MaxEntries int
}

// DefaultLimits are far above the real catalog (1.3 MB, 1,404 entries in
// August 2025, growing by about 200 a year).
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxEntries: 100000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	return l
}

// ErrTooLarge is wrapped by the error for a catalog over a limit.
var ErrTooLarge = errors.New("over the limit")

// csvHeader is the CSV file's header, in CISA's order.
var csvHeader = []string{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
	"shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes", "cwes"}

// Decode reads the catalog as JSON or CSV, telling them apart by the first
// byte that is not white space or a byte order mark: '{' is JSON, anything
// else CSV. An entry without a cveID, with one that is not CVE-YYYY-NNNN…,
// with a dateAdded or dueDate that is not a YYYY-MM-DD date, or with a
// CVE already listed, is an error naming its index in the list (from 0) and,
// for CSV, its line. So is input over a limit (wrapping ErrTooLarge) or cut
// short (wrapping io.ErrUnexpectedEOF).
func Decode(r io.Reader, lim Limits) (*Catalog, error) {
	lim = lim.withDefaults()
	cr := &countReader{r: r, max: lim.MaxBytes}
	br := bufio.NewReaderSize(cr, 64<<10)
	first, err := sniff(br)
	if err != nil {
		return nil, err
	}
	var c *Catalog
	if first == '{' {
		c, err = decodeJSON(br, lim)
	} else {
		c, err = decodeCSV(br, lim)
	}
	if cr.over {
		return nil, fmt.Errorf("kev: the catalog is larger than %d bytes: %w", lim.MaxBytes, ErrTooLarge)
	}
	return c, err
}

// sniff skips white space and a UTF-8 byte order mark and returns the next
// byte, unread.
func sniff(br *bufio.Reader) (byte, error) {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3) //nolint:errcheck // peeked
	}
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, errors.New("kev: empty input")
		}
		if err != nil {
			return 0, fmt.Errorf("kev: %w", err)
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		br.UnreadByte() //nolint:errcheck // just read
		return b, nil
	}
}

// countReader fails a read past max bytes.
type countReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		c.over = true
		return 0, ErrTooLarge
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// jsonEntry is an entry as the feed spells it. forensicTriage, seen in one
// schema version, and any other new field are ignored.
type jsonEntry struct {
	CVE            string   `json:"cveID"`
	VendorProject  string   `json:"vendorProject"`
	Product        string   `json:"product"`
	Name           string   `json:"vulnerabilityName"`
	DateAdded      string   `json:"dateAdded"`
	Description    string   `json:"shortDescription"`
	RequiredAction string   `json:"requiredAction"`
	DueDate        string   `json:"dueDate"`
	Ransomware     string   `json:"knownRansomwareCampaignUse"`
	Notes          string   `json:"notes"`
	CWEs           []string `json:"cwes"`
}

// Encode writes c as CISA's JSON feed, keys in CISA's order and indented
// as CISA indents them; every entry has its cwes list, empty or not. The
// generated data sets and the API double write their catalogs with it.
func Encode(w io.Writer, c *Catalog) error {
	out := struct {
		Title           string      `json:"title"`
		CatalogVersion  string      `json:"catalogVersion"`
		DateReleased    string      `json:"dateReleased"`
		Count           int         `json:"count"`
		Vulnerabilities []jsonEntry `json:"vulnerabilities"`
	}{c.Title, c.Version, c.Released, len(c.Entries), make([]jsonEntry, len(c.Entries))}
	for i, e := range c.Entries {
		out.Vulnerabilities[i] = jsonEntry(e)
		if e.CWEs == nil {
			out.Vulnerabilities[i].CWEs = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// decodeJSON reads the feed object key by key, and its vulnerabilities one
// entry at a time, so that an error names the entry.
func decodeJSON(r io.Reader, lim Limits) (*Catalog, error) {
	dec := json.NewDecoder(r)
	c := &Catalog{}
	fail := func(err error) (*Catalog, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("kev: byte %d: %w", dec.InputOffset(), err)
	}
	if t, err := dec.Token(); err != nil {
		return fail(err)
	} else if t != json.Delim('{') {
		return fail(errors.New("not a KEV catalog object"))
	}
	seen := map[string]int{}
	sawList := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := t.(string)
		switch key {
		case "title", "catalogVersion", "dateReleased":
			var s string
			if err := dec.Decode(&s); err != nil {
				return fail(fmt.Errorf("%s: %w", key, err))
			}
			switch key {
			case "title":
				c.Title = s
			case "catalogVersion":
				c.Version = s
			default:
				c.Released = s
			}
		case "vulnerabilities":
			sawList = true
			if t, err := dec.Token(); err != nil {
				return fail(err)
			} else if t != json.Delim('[') {
				return fail(errors.New("vulnerabilities is not a list"))
			}
			for i := 0; dec.More(); i++ {
				if i >= lim.MaxEntries {
					return nil, fmt.Errorf("kev: more than %d entries: %w", lim.MaxEntries, ErrTooLarge)
				}
				var je jsonEntry
				if err := dec.Decode(&je); err != nil {
					return fail(fmt.Errorf("entry %d: %w", i, err))
				}
				e := Entry{CVE: je.CVE, VendorProject: je.VendorProject, Product: je.Product, Name: je.Name,
					DateAdded: je.DateAdded, Description: je.Description, RequiredAction: je.RequiredAction,
					DueDate: je.DueDate, Ransomware: je.Ransomware, Notes: je.Notes, CWEs: cleanCWEs(je.CWEs)}
				if err := e.check(seen, i); err != nil {
					return nil, fmt.Errorf("kev: entry %d%s: %w", i, named(je.CVE), err)
				}
				c.Entries = append(c.Entries, e)
			}
			if _, err := dec.Token(); err != nil {
				return fail(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if !sawList {
		return nil, errors.New("kev: the JSON has no vulnerabilities list (not a KEV catalog)")
	}
	return c, nil
}

// decodeCSV reads the CSV file: a header naming CISA's columns (in any
// order; unknown columns are ignored), then an entry per record.
func decodeCSV(r io.Reader, lim Limits) (*Catalog, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked here, to name the line
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("kev: CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(csvHeader))
	for k, name := range csvHeader {
		i, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("kev: CSV header lacks the column %q (not a KEV catalog)", name)
		}
		idx[k] = i
	}
	ncol := len(head)
	c := &Catalog{}
	seen := map[string]int{}
	for i := 0; ; i++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return c, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("kev: line %d (entry %d): %w", line, i, err)
		}
		if i >= lim.MaxEntries {
			return nil, fmt.Errorf("kev: more than %d entries: %w", lim.MaxEntries, ErrTooLarge)
		}
		if len(rec) != ncol {
			return nil, fmt.Errorf("kev: line %d (entry %d): %d fields, the header has %d", line, i, len(rec), ncol)
		}
		f := func(k int) string { return strings.TrimSpace(rec[idx[k]]) }
		e := Entry{CVE: f(0), VendorProject: f(1), Product: f(2), Name: f(3), DateAdded: f(4),
			Description: f(5), RequiredAction: f(6), DueDate: f(7), Ransomware: f(8), Notes: f(9)}
		e.CWEs = cleanCWEs(strings.Split(f(10), ","))
		if err := e.check(seen, i); err != nil {
			return nil, fmt.Errorf("kev: line %d (entry %d%s): %w", line, i, named(e.CVE), err)
		}
		c.Entries = append(c.Entries, e)
	}
}

func named(cve string) string {
	if cve == "" {
		return ""
	}
	if len(cve) > 40 {
		cve = cve[:40] + "…"
	}
	return fmt.Sprintf(", %q", cve)
}

// cleanCWEs trims the ids and drops empty ones; nil when none is left.
func cleanCWEs(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// check trims e and refuses what would make it useless to join on or to
// compute deadlines from. seen maps the CVEs so far to their index.
func (e *Entry) check(seen map[string]int, i int) error {
	for _, p := range []*string{&e.CVE, &e.VendorProject, &e.Product, &e.Name, &e.DateAdded,
		&e.Description, &e.RequiredAction, &e.DueDate, &e.Ransomware, &e.Notes} {
		*p = strings.TrimSpace(*p)
	}
	switch {
	case e.CVE == "":
		return errors.New("no cveID")
	case !ValidCVE(e.CVE):
		return fmt.Errorf("cveID %q is not CVE-YYYY-NNNN", e.CVE)
	case !validDate(e.DateAdded):
		return fmt.Errorf("dateAdded %q is not a YYYY-MM-DD date", e.DateAdded)
	case !validDate(e.DueDate):
		return fmt.Errorf("dueDate %q is not a YYYY-MM-DD date", e.DueDate)
	}
	if j, dup := seen[e.CVE]; dup {
		return fmt.Errorf("%s is listed again (first at entry %d)", e.CVE, j)
	}
	seen[e.CVE] = i
	return nil
}

// ValidCVE tells whether s is a CVE id as the catalog's schema has it:
// CVE-, four digits, -, four to nineteen digits.
func ValidCVE(s string) bool {
	if len(s) < 13 || len(s) > 28 || s[:4] != "CVE-" || s[8] != '-' {
		return false
	}
	for i := 4; i < len(s); i++ {
		if i != 8 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func validDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}
