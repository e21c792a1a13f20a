package gen

import (
	"bufio"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"

	"qvt/internal/epss"
	"qvt/internal/kev"
)

// kevJSON is the feed's layout, keys in CISA's order.
type kevJSON struct {
	Title           string         `json:"title"`
	CatalogVersion  string         `json:"catalogVersion"`
	DateReleased    string         `json:"dateReleased"`
	Count           int            `json:"count"`
	Vulnerabilities []kevEntryJSON `json:"vulnerabilities"`
}

type kevEntryJSON struct {
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

// WriteKEV writes the KEV catalog of epoch as CISA's JSON feed
// (known_exploited_vulnerabilities.json), indented as CISA indents it.
func WriteKEV(w io.Writer, d *Dataset, epoch int) error {
	return writeKEVCatalog(w, d.KEV(epoch))
}

func writeKEVCatalog(w io.Writer, c *kev.Catalog) error {
	out := kevJSON{Title: c.Title, CatalogVersion: c.Version, DateReleased: c.Released, Count: len(c.Entries),
		Vulnerabilities: make([]kevEntryJSON, len(c.Entries))}
	for i, e := range c.Entries {
		out.Vulnerabilities[i] = kevEntryJSON(e)
		if e.CWEs == nil {
			out.Vulnerabilities[i].CWEs = []string{} // CISA writes every entry's list, empty or not
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// EPSSHeader is the first line of the EPSS file of epoch.
func (d *Dataset) EPSSHeader(epoch int) epss.Header {
	return epss.Header{ModelVersion: EPSSModelVersion, ScoreDate: dateString(d.today(epoch)*day) + "T00:00:00+0000"}
}

// EPSSFile is the name FIRST gives the file of epoch:
// epss_scores-YYYY-MM-DD.csv.gz.
func (d *Dataset) EPSSFile(epoch int) string {
	return "epss_scores-" + dateString(d.today(epoch)*day) + ".csv.gz"
}

// WriteEPSS writes the EPSS scores file of epoch, uncompressed: the
// comment line, the header, and a row per scored CVE in index order.
// Scores below 0.0001 are written in scientific notation (5e-05), as the
// real files have them.
func WriteEPSS(w io.Writer, d *Dataset, epoch int) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	h := d.EPSSHeader(epoch)
	bw.WriteString("#model_version:" + h.ModelVersion + ",score_date:" + h.ScoreDate + "\ncve,epss,percentile\n")
	b := make([]byte, 0, 64)
	for i := range d.CVECount(epoch) {
		s, p, ok := d.EPSS(i, epoch)
		if !ok {
			continue
		}
		b = append(b[:0], d.CVEID(i)...)
		b = append(b, ',')
		b = appendScore(b, s)
		b = append(b, ',')
		b = appendScore(b, p)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendScore(b []byte, v float64) []byte {
	if v != 0 && v < 1e-4 {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// WriteRiskFiles writes, beside the files of WriteFiles, the KEV catalog
// (known_exploited_vulnerabilities.json) and the EPSS file
// (epss_scores-YYYY-MM-DD.csv.gz, gzip-compressed as FIRST serves it) of
// epoch 0.
func WriteRiskFiles(dir string, d *Dataset) (kevPath, epssPath string, err error) {
	kevPath = filepath.Join(dir, KEVFile)
	epssPath = filepath.Join(dir, d.EPSSFile(0))
	if err := writeFile(kevPath, false, func(w io.Writer) error { return WriteKEV(w, d, 0) }); err != nil {
		return "", "", err
	}
	if err := writeFile(epssPath, true, func(w io.Writer) error { return WriteEPSS(w, d, 0) }); err != nil {
		return "", "", err
	}
	return kevPath, epssPath, nil
}
