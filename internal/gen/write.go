package gen

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"qvt/internal/qualys"
)

// WriteKB writes a KnowledgeBase response (details=All) holding the given
// QIDs as of epoch, stamped with Now(epoch). QIDs the data set does not
// have are left out, as Qualys silently leaves out unknown ids.
func WriteKB(w io.Writer, d *Dataset, qids []int, epoch int) error {
	kw := qualys.NewKBWriter(w, qualysTime(d.now(epoch)))
	for _, q := range qids {
		v := d.Vuln(q, epoch)
		if v.QID == 0 {
			continue
		}
		if err := kw.Vuln(&v); err != nil {
			return err
		}
	}
	return kw.Close(nil)
}

// WriteHostListDetection writes a Host List Detection response holding the
// given hosts as of epoch, ending with warn when it is not nil (a
// truncated page). Ids of hosts that do not exist then are left out.
func WriteHostListDetection(w io.Writer, d *Dataset, hostIDs []int64, epoch int, warn *qualys.Warning) error {
	hw := qualys.NewHostListDetectionWriter(w, qualysTime(d.now(epoch)))
	for _, id := range hostIDs {
		h := d.Host(id, epoch)
		if h.ID == 0 {
			continue
		}
		if err := hw.Host(&h); err != nil {
			return err
		}
	}
	return hw.Close(warn)
}

// WriteNVD writes an NVD API 2.0 response (the same shape as a 2.0 feed)
// holding CVEs from..to-1 as of epoch, with startIndex and totalResults as
// given. The range is clipped to the CVEs that exist at epoch.
func WriteNVD(w io.Writer, d *Dataset, from, to int, epoch int, startIndex, total int) error {
	from, to = max(from, 0), min(to, d.CVECount(epoch))
	return d.writeNVD(w, max(to-from, 0), func(yield func(int) bool) {
		for i := from; i < to; i++ {
			if !yield(i) {
				return
			}
		}
	}, epoch, startIndex, total, d.now(epoch)*1000)
}

// WriteNVDIndexes is WriteNVD for a list of CVE indexes, such as one page
// of CVEsModifiedBetween. Indexes that do not exist at epoch are left out.
func WriteNVDIndexes(w io.Writer, d *Dataset, idx []int, epoch int, startIndex, total int) error {
	return WriteNVDIndexesAt(w, d, idx, epoch, startIndex, total, time.UnixMilli(d.now(epoch)*1000))
}

// WriteNVDIndexesAt is WriteNVDIndexes with the response's timestamp given
// rather than Now(epoch): the double stamps responses with its running
// clock. The timestamp is written to the millisecond, without a zone, as NVD
// writes it.
func WriteNVDIndexesAt(w io.Writer, d *Dataset, idx []int, epoch, startIndex, total int, timestamp time.Time) error {
	stampMillis := timestamp.UnixMilli()
	n := d.CVECount(epoch)
	var valid []int
	for _, i := range idx {
		if i >= 0 && i < n {
			valid = append(valid, i)
		}
	}
	return d.writeNVD(w, len(valid), slices.Values(valid), epoch, startIndex, total, stampMillis)
}

// writeNVD writes the response; stampMillis is its timestamp, in Unix
// milliseconds.
func (d *Dataset) writeNVD(w io.Writer, count int, indexes func(func(int) bool), epoch, startIndex, total int, stampMillis int64) error {
	o := &jsonOut{w: w, b: make([]byte, 0, jsonFlushSize+64<<10)}
	o.raw("{")
	o.int("resultsPerPage", count)
	o.int("startIndex", startIndex)
	o.int("totalResults", total)
	o.str("format", "NVD_CVE")
	o.str("version", "2.0")
	o.key("timestamp")
	o.b = append(o.b, '"')
	o.b = appendNVDTime(o.b, stampMillis)
	o.b = append(o.b, '"')
	o.key("vulnerabilities")
	o.raw("[")
	var f cveFull
	for i := range indexes {
		if !d.cveFull(i, epoch, &f) {
			continue
		}
		d.writeCVE(o, &f, i)
		if len(o.b) >= jsonFlushSize {
			if err := o.flush(); err != nil {
				return err
			}
		}
	}
	o.raw("]}\n")
	return o.flush()
}

// File names WriteFiles uses, before any ".gz".
const (
	KBFile         = "kb.xml"
	DetectionsFile = "detections.xml"
	NVDFile        = "nvdcve.json"
)

// WriteFiles writes the whole data set at epoch 0 into dir: the KB, the
// detections of every host, and every CVE, gzip-compressed (fastest level)
// when gz is set. The three files are written concurrently.
func WriteFiles(dir string, d *Dataset, gz bool) (kb, hld, nvd string, err error) {
	ext := ""
	if gz {
		ext = ".gz"
	}
	kb = filepath.Join(dir, KBFile+ext)
	hld = filepath.Join(dir, DetectionsFile+ext)
	nvd = filepath.Join(dir, NVDFile+ext)
	jobs := []struct {
		path  string
		write func(io.Writer) error
	}{
		{kb, func(w io.Writer) error { return WriteKB(w, d, d.kb.qids, 0) }},
		{hld, func(w io.Writer) error { return WriteHostListDetection(w, d, d.HostIDs(0), 0, nil) }},
		{nvd, func(w io.Writer) error { return WriteNVD(w, d, 0, d.CVECount(0), 0, 0, d.CVECount(0)) }},
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { errs[i] = writeFile(j.path, gz, j.write) })
	}
	wg.Wait()
	return kb, hld, nvd, errors.Join(errs...)
}

func writeFile(path string, gz bool, write func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // data sets look like an estate's: owner only
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if !gz {
		return write(f)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := write(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
