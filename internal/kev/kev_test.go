package kev

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// open reads a testdata file, gunzipping a .gz one. The real catalogs are
// kept compressed (CC0 data from cisagov/kev-data, see the shared
// fixtures README).
func open(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func decodeFile(t *testing.T, name string) *Catalog {
	t.Helper()
	c, err := Decode(bytes.NewReader(open(t, name)), Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func TestDecodeRealCatalogs(t *testing.T) {
	for _, tc := range []struct {
		file                     string
		entries                  int
		version, released, first string
		known                    int // knownRansomwareCampaignUse = Known
	}{
		{"known_exploited_vulnerabilities_2025-08-25.json.gz", 1404, "2025.08.25", "2025-08-25T17:04:19.9796Z", "CVE-2025-48384", 293},
		{"known_exploited_vulnerabilities_2025-08-25.csv.gz", 1404, "", "", "CVE-2025-48384", 293},
		{"known_exploited_vulnerabilities_2025-01-27.json.gz", 1252, "2025.01.24", "2025-01-24T15:00:57.5282Z", "", -1},
		{"known_exploited_vulnerabilities_first50.json", 50, "2025.08.25", "2025-08-25T17:04:19.9796Z", "CVE-2025-48384", -1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := decodeFile(t, tc.file)
			if len(c.Entries) != tc.entries {
				t.Errorf("entries = %d, want %d", len(c.Entries), tc.entries)
			}
			if c.Version != tc.version || c.Released != tc.released {
				t.Errorf("version, released = %q, %q; want %q, %q", c.Version, c.Released, tc.version, tc.released)
			}
			if tc.version != "" && c.Title != "CISA Catalog of Known Exploited Vulnerabilities" {
				t.Errorf("title = %q", c.Title)
			}
			if tc.first != "" && c.Entries[0].CVE != tc.first {
				t.Errorf("first entry %s, want %s", c.Entries[0].CVE, tc.first)
			}
			known := 0
			for _, e := range c.Entries {
				if e.Ransomware == "Known" {
					known++
				} else if e.Ransomware != "Unknown" {
					t.Errorf("%s: ransomware %q", e.CVE, e.Ransomware)
				}
			}
			if tc.known >= 0 && known != tc.known {
				t.Errorf("%d entries with ransomware Known, want %d", known, tc.known)
			}
		})
	}
}

// TestDecodeKnownEntry checks every field of Log4Shell's entry, from both
// files of 2025-08-25.
func TestDecodeKnownEntry(t *testing.T) {
	want := Entry{
		CVE:            "CVE-2021-44228",
		VendorProject:  "Apache",
		Product:        "Log4j2",
		Name:           "Apache Log4j2 Remote Code Execution Vulnerability",
		DateAdded:      "2021-12-10",
		Description:    "Apache Log4j2 contains a vulnerability where JNDI features do not protect against attacker-controlled JNDI-related endpoints, allowing for remote code execution.",
		RequiredAction: "For all affected software assets for which updates exist, the only acceptable remediation actions are: 1) Apply updates; OR 2) remove affected assets from agency networks. Temporary mitigations using one of the measures provided at https://www.cisa.gov/uscert/ed-22-02-apache-log4j-recommended-mitigation-measures are only acceptable until updates are available.",
		DueDate:        "2021-12-24",
		Ransomware:     "Known",
		Notes:          "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
		CWEs:           []string{"CWE-20", "CWE-400", "CWE-502"},
	}
	for _, f := range []string{"known_exploited_vulnerabilities_2025-08-25.json.gz", "known_exploited_vulnerabilities_2025-08-25.csv.gz"} {
		c := decodeFile(t, f)
		var got *Entry
		for i := range c.Entries {
			if c.Entries[i].CVE == want.CVE {
				got = &c.Entries[i]
			}
		}
		if got == nil {
			t.Fatalf("%s: no %s", f, want.CVE)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", f, *got, want)
		}
	}
}

// TestJSONAndCSVAgree: CISA publishes one catalog in two forms; both must
// give the same entries, in the same order, so that importing either leaves
// the same store.
func TestJSONAndCSVAgree(t *testing.T) {
	j := decodeFile(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	c := decodeFile(t, "known_exploited_vulnerabilities_2025-08-25.csv.gz")
	if len(j.Entries) != len(c.Entries) {
		t.Fatalf("JSON has %d entries, CSV %d", len(j.Entries), len(c.Entries))
	}
	for i := range j.Entries {
		if !reflect.DeepEqual(j.Entries[i], c.Entries[i]) {
			t.Fatalf("entry %d differs:\nJSON %+v\n CSV %+v", i, j.Entries[i], c.Entries[i])
		}
	}
}

// TestTrimmed: real entries carry trailing spaces (product "Multiple
// Chipsets " of CVE-2024-43047); kept, they would read as edits.
func TestTrimmed(t *testing.T) {
	c := decodeFile(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	for _, e := range c.Entries {
		if e.CVE == "CVE-2024-43047" && e.Product != "Multiple Chipsets" {
			t.Errorf("product %q not trimmed", e.Product)
		}
	}
}

// TestCatalogChanges: between the two releases entries were added and some
// edited in place, none removed (the fixtures README); a store diffing them
// must see exactly that.
func TestCatalogChanges(t *testing.T) {
	old := decodeFile(t, "known_exploited_vulnerabilities_2025-01-27.json.gz")
	cur := decodeFile(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	before := map[string]Entry{}
	for _, e := range old.Entries {
		before[e.CVE] = e
	}
	added, toKnown := 0, 0
	for _, e := range cur.Entries {
		o, ok := before[e.CVE]
		if !ok {
			added++
			continue
		}
		delete(before, e.CVE)
		if o.Ransomware == "Unknown" && e.Ransomware == "Known" {
			toKnown++
		}
		if o.DateAdded != e.DateAdded || o.DueDate != e.DueDate {
			t.Errorf("%s: dates changed", e.CVE)
		}
	}
	if added != 152 || len(before) != 0 || toKnown != 35 {
		t.Errorf("added %d, removed %d, ransomware Unknown→Known %d; want 152, 0, 35", added, len(before), toKnown)
	}
}

func TestDecodeBad(t *testing.T) {
	entry := func(fields string) string {
		return `{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2021-0001","dateAdded":"2021-11-03","dueDate":"2021-11-17"},{` + fields + `}]}`
	}
	const head = "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n"
	const good = "CVE-2021-0001,V,P,N,2021-11-03,D,A,2021-11-17,Unknown,,\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "  \n", "kev: empty input"},
		{"json no cve", entry(`"dateAdded":"2021-11-03","dueDate":"2021-11-17"`), "kev: entry 1: no cveID"},
		{"json bad cve", entry(`"cveID":"CVE-21-1","dateAdded":"2021-11-03","dueDate":"2021-11-17"`), `kev: entry 1, "CVE-21-1": cveID "CVE-21-1" is not CVE-YYYY-NNNN`},
		{"json bad date", entry(`"cveID":"CVE-2021-0002","dateAdded":"2021/11/03","dueDate":"2021-11-17"`), `kev: entry 1, "CVE-2021-0002": dateAdded "2021/11/03" is not a YYYY-MM-DD date`},
		{"json no due", entry(`"cveID":"CVE-2021-0002","dateAdded":"2021-11-03"`), `kev: entry 1, "CVE-2021-0002": dueDate "" is not a YYYY-MM-DD date`},
		{"json impossible date", entry(`"cveID":"CVE-2021-0002","dateAdded":"2021-02-30","dueDate":"2021-11-17"`), `dateAdded "2021-02-30"`},
		{"json duplicate", entry(`"cveID":"CVE-2021-0001","dateAdded":"2021-11-03","dueDate":"2021-11-17"`), `kev: entry 1, "CVE-2021-0001": CVE-2021-0001 is listed again (first at entry 0)`},
		{"json wrong type", entry(`"cveID":"CVE-2021-0002","cwes":"CWE-1"`), "entry 1: json: cannot unmarshal"},
		{"json cut", entry(`"cveID":"CVE-2021-0002"`)[:60], "unexpected EOF"},
		{"json not kev", `{"resultsPerPage":1}`, "no vulnerabilities list"},
		{"json array", `[1]`, `lacks the column "cveID"`}, // not '{': read as CSV, whose header is wrong
		{"csv bad header", "a,b\n1,2\n", `lacks the column "cveID"`},
		{"csv bad cve", head + good + "CVE-2021-X,V,P,N,2021-11-03,D,A,2021-11-17,Unknown,,\n", `kev: line 3 (entry 1, "CVE-2021-X"): cveID`},
		{"csv fields", head + good + "CVE-2021-0002,V,P\n", "kev: line 3 (entry 1): 3 fields, the header has 11"},
		{"csv quote", head + good + "CVE-2021-0002,\"V,P\n", "kev: line 3 (entry 1)"},
		{"csv bad due", head + "CVE-2021-0002,V,P,N,2021-11-03,D,A,soon,Unknown,,\n", `kev: line 2 (entry 0, "CVE-2021-0002"): dueDate "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in), Limits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeCSVColumnsReordered(t *testing.T) {
	in := "cwes,cveID,notes,knownRansomwareCampaignUse,dueDate,requiredAction,shortDescription,dateAdded,vulnerabilityName,product,vendorProject,forensicTriage\n" +
		"\"CWE-1, CWE-2\",CVE-2024-12345, n ,Known,2024-02-01,A,D,2024-01-11,N,P,V,No\n"
	c, err := Decode(strings.NewReader("\xef\xbb\xbf"+in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{CVE: "CVE-2024-12345", VendorProject: "V", Product: "P", Name: "N", DateAdded: "2024-01-11",
		Description: "D", RequiredAction: "A", DueDate: "2024-02-01", Ransomware: "Known", Notes: "n", CWEs: []string{"CWE-1", "CWE-2"}}
	if len(c.Entries) != 1 || !reflect.DeepEqual(c.Entries[0], want) {
		t.Errorf("got %+v", c.Entries)
	}
}

func TestLimits(t *testing.T) {
	data := open(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	if _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: 100 << 10}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 102400 bytes") {
		t.Errorf("MaxBytes: err = %v", err)
	}
	if _, err := Decode(bytes.NewReader(data), Limits{MaxEntries: 1000}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 1000 entries") {
		t.Errorf("MaxEntries: err = %v", err)
	}
	csvData := open(t, "known_exploited_vulnerabilities_2025-08-25.csv.gz")
	if _, err := Decode(bytes.NewReader(csvData), Limits{MaxEntries: 1403}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("CSV MaxEntries: err = %v", err)
	}
	if c, err := Decode(bytes.NewReader(csvData), Limits{MaxEntries: 1404, MaxBytes: int64(len(csvData))}); err != nil || len(c.Entries) != 1404 {
		t.Errorf("at the limits: %v", err)
	}
}

func TestValidCVE(t *testing.T) {
	for s, want := range map[string]bool{
		"CVE-2021-44228": true, "CVE-1999-0001": true, "CVE-2024-1234567890123456789": true,
		"CVE-2021-123": false, "cve-2021-44228": false, "CVE-2021-4422a": false, "CVE-20211-4422": false,
		"CVE-2024-12345678901234567890": false, "": false,
	} {
		if ValidCVE(s) != want {
			t.Errorf("ValidCVE(%q) = %v", s, !want)
		}
	}
}

// A real catalog written by Encode decodes to itself: the feed the
// generated data sets and the API double serve is CISA's layout.
func TestEncodeRoundTrip(t *testing.T) {
	c := decodeFile(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	var b bytes.Buffer
	if err := Encode(&b, c); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("the catalog written and read back differs: %d entries, version %q, released %q; want %d, %q, %q",
			len(back.Entries), back.Version, back.Released, len(c.Entries), c.Version, c.Released)
	}
}
