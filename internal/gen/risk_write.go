package gen

import (
	"bufio"
	"io"
	"path/filepath"
	"strconv"

	"qvt/internal/epss"
	"qvt/internal/kev"
)

// WriteKEV writes the KEV catalog of epoch as CISA's JSON feed
// (known_exploited_vulnerabilities.json).
func WriteKEV(w io.Writer, d *Dataset, epoch int) error {
	return kev.Encode(w, d.KEV(epoch))
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
