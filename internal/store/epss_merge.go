package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// epssRows is a whole EPSS file held for the merge with the stored
// scores (SQLite): about 35 bytes a row, 9 MB for a day's file, with no
// pointer for the collector to follow. Rows go in blocks, which a growing
// file fills without copying the ones before.
type epssRows struct {
	blocks []*epssBlock
	n      int
	// order is the rows in byte order of their ids, nil while the file
	// comes in that order (it needs no sort).
	order []int32
	out   bool // a row came out of order: sort before the merge
}

// epssBlockRows is how many rows an epssBlock holds.
const epssBlockRows = 1 << 14

type epssBlock struct {
	ids    []byte // the block's CVE ids end to end
	ends   [epssBlockRows]uint32
	scores [epssBlockRows]epssPair
}

type epssPair struct{ epss, pct float64 }

// errEPSSSize is a file with more rows than epssRows numbers, far beyond
// any real one.
var errEPSSSize = errors.New("epss: the file has too many rows to hold")

func (f *epssRows) len() int { return f.n }

// id is row i's CVE id, in file order.
func (f *epssRows) id(i int) []byte {
	b, j := f.blocks[i/epssBlockRows], i%epssBlockRows
	start := uint32(0)
	if j > 0 {
		start = b.ends[j-1]
	}
	return b.ids[start:b.ends[j]]
}

func (f *epssRows) score(i int) epssPair { return f.blocks[i/epssBlockRows].scores[i%epssBlockRows] }

// reset empties f, keeping its blocks for the rows to come.
func (f *epssRows) reset() {
	f.n, f.order, f.out = 0, nil, false
}

// add appends a row; a CVE that follows itself is refused here, one
// scored twice further apart by sort.
func (f *epssRows) add(s EPSSScore) error {
	if f.n == math.MaxInt32 {
		return errEPSSSize
	}
	epssPut(f, s.CVE, epssPair{s.EPSS, s.Percentile})
	if n := f.n; n > 1 && !f.out {
		switch bytes.Compare(f.id(n-2), f.id(n-1)) {
		case 0:
			return epssTwice(s.CVE)
		case 1:
			f.out = true
		}
	}
	return nil
}

// epssPut appends a row to f, its id a string or a column's bytes.
func epssPut[T []byte | string](f *epssRows, id T, p epssPair) {
	k, j := f.n/epssBlockRows, f.n%epssBlockRows
	if k == len(f.blocks) {
		f.blocks = append(f.blocks, &epssBlock{ids: make([]byte, 0, 16*epssBlockRows)})
	}
	b := f.blocks[k]
	if j == 0 {
		b.ids = b.ids[:0]
	}
	b.ids = append(b.ids, id...)
	b.ends[j] = uint32(len(b.ids))
	b.scores[j] = p
	f.n++
}

// sort orders the rows by id if they came in another order (by number,
// as CVE-2017-9999 before CVE-2017-10000, which text order puts after
// CVE-2017-1000), and refuses a CVE scored twice.
func (f *epssRows) sort() error {
	if !f.out {
		return nil
	}
	f.order = make([]int32, f.len())
	for i := range f.order {
		f.order[i] = int32(i)
	}
	slices.SortFunc(f.order, func(a, b int32) int { return bytes.Compare(f.id(int(a)), f.id(int(b))) })
	for k := 1; k < len(f.order); k++ {
		if bytes.Equal(f.id(int(f.order[k-1])), f.id(int(f.order[k]))) {
			return epssTwice(string(f.id(int(f.order[k]))))
		}
	}
	return nil
}

// row is the k-th row in byte order of the ids.
func (f *epssRows) row(k int) int {
	if f.order == nil {
		return k
	}
	return int(f.order[k])
}

func epssTwice(cve string) error {
	return fmt.Errorf("epss: a CVE is scored twice in the file: %s", cve)
}

// epssChunkRows is how many stored scores mergeEPSS reads at a time:
// enough that each read is cheap, few enough to hold.
const epssChunkRows = 4096

// epssPer is how many rows go in one INSERT: one statement per row costs
// more than the row.
const epssPer = 100

// mergeEPSS writes the difference between the file f and the stored
// scores (SQLite): both are walked once in the order of the CVE ids, the
// stored scores a chunk at a time, and only new, changed and dropped
// scores are written. The QIDs of their CVEs, read in the same order from
// kb_cves' index on cve_id, go to risk_queue.
func (tx *Tx) mergeEPSS(f *epssRows, res *EPSSResult) error {
	// New scores go in many to a statement. OR IGNORE, which never
	// applies (the merge found no stored score for them), spares the
	// statement journal SQLite keeps for a statement of many rows that
	// may fail midway.
	insert := func(n int) (*sqlite3.Stmt, error) {
		return tx.stmt(`INSERT OR IGNORE INTO epss_scores (cve, epss, percentile) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", n), ","))
	}
	many, err := insert(epssPer)
	if err != nil {
		return err
	}
	one, err := insert(1)
	if err != nil {
		return err
	}
	update, err := tx.stmt(`UPDATE epss_scores SET prev_epss = epss, prev_percentile = percentile,
 epss = ?, percentile = ? WHERE cve = ?`)
	if err != nil {
		return err
	}
	del, err := tx.stmt("DELETE FROM epss_scores WHERE cve = ?")
	if err != nil {
		return err
	}
	// kb_cves is only read: one cursor serves the whole walk.
	kb, _, err := tx.conn.Prepare("SELECT cve_id, qid FROM kb_cves ORDER BY cve_id")
	if err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	defer kb.Close()
	kbMore := kb.Step()
	var qids []int64
	// touched queues the QIDs of a CVE whose score changed; the CVEs come
	// in order.
	touched := func(cve []byte) {
		for kbMore {
			c := bytes.Compare(kb.ColumnRawText(0), cve)
			if c > 0 {
				return
			}
			if c == 0 {
				qids = append(qids, kb.ColumnInt64(1))
			}
			kbMore = kb.Step()
		}
	}

	var batch []int // new rows of f
	flush := func() error {
		st := many
		if len(batch) < epssPer {
			st = one
		}
		p := 0
		for _, i := range batch {
			p += 3
			err := errors.Join(st.BindRawText(p-2, f.id(i)), st.BindFloat(p-1, f.score(i).epss), st.BindFloat(p, f.score(i).pct))
			if err == nil && (st == one || p == 3*len(batch)) {
				p, err = 0, st.Exec()
			}
			if err != nil {
				return fmt.Errorf("store: epss: %w", err)
			}
		}
		res.Changed += len(batch)
		batch = batch[:0]
		return nil
	}
	added := func(i int) error {
		touched(f.id(i))
		if batch = append(batch, i); len(batch) == epssPer {
			return flush()
		}
		return nil
	}
	moved := func(i int) error {
		touched(f.id(i))
		err := errors.Join(update.BindFloat(1, f.score(i).epss), update.BindFloat(2, f.score(i).pct), update.BindRawText(3, f.id(i)))
		if err == nil {
			err = update.Exec()
		}
		if err != nil {
			return fmt.Errorf("store: epss: %w", err)
		}
		res.Changed++
		return nil
	}

	// The stored scores of a chunk, in id order.
	var stored epssRows
	var lo []byte // the last id of the chunk before, nil for the first
	k := 0        // the next row of f, in id order
	for {
		stored.reset()
		q := "SELECT cve, epss, percentile FROM epss_scores ORDER BY cve LIMIT " + fmt.Sprint(epssChunkRows)
		var args []any
		if lo != nil {
			q = "SELECT cve, epss, percentile FROM epss_scores WHERE cve > ? ORDER BY cve LIMIT " + fmt.Sprint(epssChunkRows)
			args = []any{string(lo)}
		}
		err := tx.query(q, func(st Cols) error {
			epssPut(&stored, st.ColumnRawText(0), epssPair{st.ColumnFloat(1), st.ColumnFloat(2)})
			return nil
		}, args...)
		if err != nil {
			return err
		}
		last := stored.len() < epssChunkRows
		var hi []byte // the chunk holds the file's ids up to hi; all of them when last
		if !last {
			hi = stored.id(stored.len() - 1)
		}
		j := 0
		for {
			fileHas := k < f.len() && (last || bytes.Compare(f.id(f.row(k)), hi) <= 0)
			storedHas := j < stored.len()
			if !fileHas && !storedHas {
				break
			}
			c := 0
			switch {
			case !storedHas:
				c = -1
			case !fileHas:
				c = 1
			default:
				c = bytes.Compare(f.id(f.row(k)), stored.id(j))
			}
			switch {
			case c < 0: // new
				if err := added(f.row(k)); err != nil {
					return err
				}
				k++
			case c > 0: // no longer scored
				cve := stored.id(j)
				touched(cve)
				if err := del.BindRawText(1, cve); err != nil {
					return fmt.Errorf("store: epss: %w", err)
				}
				if err := del.Exec(); err != nil {
					return fmt.Errorf("store: epss: %w", err)
				}
				res.Removed++
				j++
			default:
				i := f.row(k)
				if f.score(i) != stored.score(j) {
					if err := moved(i); err != nil {
						return err
					}
				}
				k++
				j++
			}
		}
		if last {
			break
		}
		lo = append(lo[:0], hi...)
	}
	if err := kb.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	return tx.queueRisk(qids)
}

// queueRisk queues QIDs in risk_queue (SQLite), in order, many to a
// statement.
func (tx *Tx) queueRisk(qids []int64) error {
	slices.Sort(qids)
	qids = slices.Compact(qids)
	ins := func(n int) (*sqlite3.Stmt, error) {
		return tx.stmt("INSERT INTO risk_queue (qid) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?),", n), ",") + " ON CONFLICT DO NOTHING")
	}
	for len(qids) > 0 {
		n := min(len(qids), epssPer)
		if n < epssPer {
			n = 1
		}
		st, err := ins(n)
		if err != nil {
			return err
		}
		for p := range n {
			if err := st.BindInt64(p+1, qids[p]); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
		if err := st.Exec(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		qids = qids[n:]
	}
	return nil
}
