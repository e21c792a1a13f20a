package export

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"qvt/internal/finding"
	"qvt/internal/store"
)

// Sorts lists the orders of `qvt export --sort`: key (the store's order)
// and priority (most urgent first, docs/priority.md).
var Sorts = []string{"key", "priority"}

// sortBudget is how many bytes of findings a sorted export holds before it
// writes a sorted run to a temporary file; a variable for tests.
var sortBudget = 64 << 20

// Sorted returns a writer that hands the findings to w most urgent first
// (docs/priority.md, "Order of the list"). The store gives findings in
// key order, so they are sorted here: in memory up to sortBudget, beyond
// it in sorted runs written to temporary files in dir ("" for the
// system's) and merged, so memory stays bounded whatever the export's
// size. A finding read back from a run has no KB entry attached (Row.Shared
// is nil), which every format but legacy does without.
func Sorted(w Writer, dir string) Writer {
	return &sorter{w: w, dir: dir}
}

type sorter struct {
	w     Writer
	dir   string
	rows  []sortRow
	bytes int
	runs  []*os.File
}

type sortRow struct {
	key []byte
	row *store.Row
}

func (s *sorter) Write(r *store.Row) error {
	k := PriorityKey(&r.Finding)
	s.rows = append(s.rows, sortRow{k, r})
	s.bytes += len(k) + rowSize(&r.Finding)
	if s.bytes >= sortBudget {
		return s.spill()
	}
	return nil
}

// rowSize is about what a finding holds beyond its shared KB entry.
func rowSize(f *finding.Finding) int {
	return 512 + len(f.Results) + len(f.Key) + len(f.Hostname) + len(f.OS) + 16*len(f.Tags)
}

func (s *sorter) sort() {
	slices.SortStableFunc(s.rows, func(a, b sortRow) int { return bytes.Compare(a.key, b.key) })
}

// spill writes the rows held, sorted, as a run: each record is its key
// and the finding's JSON, both length-prefixed.
func (s *sorter) spill() error {
	s.sort()
	f, err := os.CreateTemp(s.dir, "qvt-sort-*")
	if err != nil {
		return fmt.Errorf("sorting: %w", err)
	}
	os.Remove(f.Name()) // unlinked at once: nothing is left behind, whatever happens
	s.runs = append(s.runs, f)
	bw := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	for _, r := range s.rows {
		buf = binary.AppendUvarint(buf[:0], uint64(len(r.key)))
		buf = append(buf, r.key...)
		j := AppendJSON(nil, &r.row.Finding, nil)
		buf = binary.AppendUvarint(buf, uint64(len(j)))
		buf = append(buf, j...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("sorting: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sorting: %w", err)
	}
	clear(s.rows)
	s.rows, s.bytes = s.rows[:0], 0
	return nil
}

func (s *sorter) Close() error {
	defer func() {
		for _, f := range s.runs {
			f.Close()
		}
	}()
	if len(s.runs) == 0 {
		s.sort()
		for _, r := range s.rows {
			if err := s.w.Write(r.row); err != nil {
				s.w.Close()
				return err
			}
		}
		return s.w.Close()
	}
	if len(s.rows) > 0 {
		if err := s.spill(); err != nil {
			s.w.Close()
			return err
		}
	}
	if err := s.merge(); err != nil {
		s.w.Close()
		return err
	}
	return s.w.Close()
}

// merge reads the runs back in order, the least key first.
func (s *sorter) merge() error {
	h := &runHeap{}
	for _, f := range s.runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("sorting: %w", err)
		}
		r := &run{r: bufio.NewReaderSize(f, 256<<10)}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Push(h, r)
		}
	}
	for h.Len() > 0 {
		r := (*h)[0]
		row := &store.Row{}
		if err := json.Unmarshal(r.rec, &row.Finding); err != nil {
			return fmt.Errorf("sorting: reading a run back: %w", err)
		}
		if err := s.w.Write(row); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type run struct {
	r        *bufio.Reader
	key, rec []byte
}

func (r *run) next() (bool, error) {
	read := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r.r)
		if err != nil {
			return nil, err
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r.r, b)
		return b, err
	}
	k, err := read()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sorting: reading a run back: %w", err)
	}
	rec, err := read()
	if err != nil {
		return false, fmt.Errorf("sorting: reading a run back: %w", err)
	}
	r.key, r.rec = k, rec
	return true, nil
}

type runHeap []*run

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].key, h[j].key) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// PriorityKey encodes a finding's place in the "most urgent first" order
// as bytes that compare in that order: priority (P1 first, none last),
// KEV first, EPSS highest first (none last), environmental score highest
// first (none last), due date earliest first ("" last), then the key.
func PriorityKey(f *finding.Finding) []byte {
	b := make([]byte, 0, 48+len(f.Key))
	p := byte(0xff)
	if i := slices.Index(finding.Priorities, f.Priority); i >= 0 {
		p = byte(i)
	}
	b = append(b, p)
	if f.KEV {
		b = append(b, 0)
	} else {
		b = append(b, 1)
	}
	b = descending(b, f.EPSS)
	b = descending(b, f.EnvScore)
	if f.DueDate == "" {
		b = append(b, 1)
	} else {
		b = append(b, 0)
		b = append(b, f.DueDate...)
		b = append(b, 0)
	}
	return append(b, f.Key...)
}

// descending appends a non-negative number so that higher ones compare
// first and none compares last.
func descending(b []byte, v *float64) []byte {
	if v == nil {
		return append(b, 1, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, ^math.Float64bits(max(*v, 0)))
}
