package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// A day's file against the day before's, over more scores than the store
// reads at a time and in FIRST's order (CVE-2017-9999 before
// CVE-2017-10000, which is not the order of the ids as text): a score
// that is the same stays as it was, one whose EPSS or percentile moved
// keeps the one before it, a new one is added, one no longer in the file
// is dropped, and the QIDs of exactly the new, moved and dropped CVEs are
// queued. The same file shuffled changes nothing; a CVE twice anywhere in
// it is refused.
func TestPutEPSSDiff(t *testing.T) { storetest.Run(t, testPutEPSSDiff) }

func testPutEPSSDiff(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)

	// The CVEs in FIRST's order: by year, then by number.
	var ids []string
	for y := 2016; y <= 2018; y++ {
		for n := 1; n <= 4000; n++ {
			m := n
			if n > 3000 {
				m = 9000 + n // 5-digit numbers, among the 4-digit ones as text
			}
			ids = append(ids, fmt.Sprintf("CVE-%d-%04d", y, m))
		}
	}
	score := func(i, day int) EPSSScore {
		e, p := float64(i%997)/1000, float64(i%991)/1000
		switch {
		case day == 2 && i%5 == 1:
			e += 0.0001 // EPSS moved
		case day == 2 && i%5 == 2:
			p += 0.0001 // percentile moved
		}
		return EPSSScore{CVE: ids[i], EPSS: e, Percentile: p}
	}
	// Day 1 scores every CVE but those of i%11 == 4; day 2 drops those of
	// i%5 == 3 and scores the others, the i%11 == 4 ones new.
	var day1, day2 []EPSSScore
	for i := range ids {
		if i%11 != 4 {
			day1 = append(day1, score(i, 1))
		}
		if i%5 != 3 {
			day2 = append(day2, score(i, 2))
		}
	}
	// A QID for every third CVE, and one with two CVEs of which only one
	// is new.
	var kb []*qualys.Vuln
	want := map[int]bool{}
	for i := 0; i < len(ids); i += 3 {
		qid := 100_000 + i
		kb = append(kb, &qualys.Vuln{QID: qid, Severity: 3, Title: "t", CVEs: []string{ids[i]}})
		added := i%11 == 4 && i%5 != 3
		moved := i%11 != 4 && (i%5 == 1 || i%5 == 2)
		dropped := i%11 != 4 && i%5 == 3
		if added || moved || dropped {
			want[qid] = true
		}
	}
	kb = append(kb, &qualys.Vuln{QID: 7, Severity: 3, Title: "two", CVEs: []string{ids[0], ids[4]}}) // 0 same, 4 new
	want[7] = true
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(kb) }); err != nil {
		t.Fatal(err)
	}
	queued(t, st)
	put := func(date string, ss []EPSSScore) EPSSResult {
		t.Helper()
		var res EPSSResult
		if err := st.Write(ctx, func(tx *Tx) error {
			var err error
			res, err = tx.PutEPSS(scores(date, ss...), 1_700_000_000)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := put("2025-03-20", day1)
	if res.Scores != len(day1) || res.Changed != len(day1) || res.Removed != 0 {
		t.Errorf("first file: %+v, want %d scores all new", res, len(day1))
	}
	queued(t, st)

	res = put("2025-03-21", day2)
	var moved, added, dropped int
	for i := range ids {
		switch {
		case i%11 == 4 && i%5 != 3:
			added++
		case i%11 != 4 && i%5 == 3:
			dropped++
		case i%11 != 4 && (i%5 == 1 || i%5 == 2):
			moved++
		}
	}
	if res.Scores != len(day2) || res.Changed != moved+added || res.Removed != dropped || res.QIDs != len(want) {
		t.Errorf("second file: %+v, want %d scores, %d changed, %d removed, %d QIDs",
			res, len(day2), moved+added, dropped, len(want))
	}
	got := queued(t, st)
	var wantQ []int
	for q := range want {
		wantQ = append(wantQ, q)
	}
	slices.Sort(wantQ)
	if !slices.Equal(got, wantQ) {
		t.Errorf("second file queued %d QIDs, want %d; first differences: %s", len(got), len(wantQ), onlyInOne(got, wantQ))
	}

	type row struct {
		epss, pct         float64
		prevEPSS, prevPct *float64
	}
	read := func() map[string]row {
		out := map[string]row{}
		if err := st.Write(ctx, func(tx *Tx) error {
			return tx.query("SELECT cve, epss, percentile, prev_epss, prev_percentile FROM epss_scores", func(c Cols) error {
				out[c.ColumnText(0)] = row{c.ColumnFloat(1), c.ColumnFloat(2), optCol(c, 3), optCol(c, 4)}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	stored := read()
	if len(stored) != len(day2) {
		t.Errorf("%d scores stored, want %d", len(stored), len(day2))
	}
	bad := 0
	for i := range ids {
		r, ok := stored[ids[i]]
		if i%5 == 3 {
			if ok {
				t.Errorf("%s, dropped from the file, is still stored", ids[i])
				bad++
			}
			continue
		}
		s2 := score(i, 2)
		var wantPrev *EPSSScore
		if i%11 != 4 && (i%5 == 1 || i%5 == 2) {
			s1 := score(i, 1)
			wantPrev = &s1
		}
		switch {
		case !ok:
			t.Errorf("%s is not stored", ids[i])
		case r.epss != s2.EPSS || r.pct != s2.Percentile:
			t.Errorf("%s: %v %v, want %v %v", ids[i], r.epss, r.pct, s2.EPSS, s2.Percentile)
		case wantPrev == nil && (r.prevEPSS != nil || r.prevPct != nil):
			t.Errorf("%s, new or the same, has a score before it", ids[i])
		case wantPrev != nil && (r.prevEPSS == nil || r.prevPct == nil || *r.prevEPSS != wantPrev.EPSS || *r.prevPct != wantPrev.Percentile):
			t.Errorf("%s, moved, does not keep the score before it (%v %v)", ids[i], wantPrev.EPSS, wantPrev.Percentile)
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatal("and more")
		}
	}

	// The same scores in another order change nothing.
	shuffled := slices.Clone(day2)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	res = put("2025-03-21", shuffled)
	if res.Changed != 0 || res.Removed != 0 || res.QIDs != 0 {
		t.Errorf("the same file shuffled: %+v, want nothing changed", res)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Errorf("the same file shuffled queued %d QIDs", len(q))
	}

	// A CVE twice, far apart in a file out of order, is refused.
	twice := append(slices.Clone(shuffled), EPSSScore{CVE: shuffled[10].CVE, EPSS: 0.5, Percentile: 0.5})
	err := st.Write(ctx, func(tx *Tx) error {
		_, err := tx.PutEPSS(scores("2025-03-22", twice...), 1_700_000_000)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a file with %s twice: %v, want it refused", shuffled[10].CVE, err)
	}
	if after := read(); len(after) != len(stored) || after[shuffled[10].CVE].epss != stored[shuffled[10].CVE].epss {
		t.Error("a refused file changed the scores")
	}
}

// onlyInOne names the first few elements that are in only one of two
// sorted lists.
func onlyInOne(a, b []int) string {
	var out []string
	i, j := 0, 0
	for (i < len(a) || j < len(b)) && len(out) < 5 {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, fmt.Sprintf("%d unwanted", a[i]))
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, fmt.Sprintf("%d missing", b[j]))
			j++
		default:
			i++
			j++
		}
	}
	return strings.Join(out, ", ")
}
