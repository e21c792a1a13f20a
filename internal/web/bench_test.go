package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/store"
)

// The dashboard's performance targets, measured on a store of a million
// findings. Build one (a minute or two), then run:
//
//	qvt gen -o DIR --hosts 25000 --detections 40 --qids 150000 --cves 40000
//	qvt --db DIR/big.db import DIR/kb.xml DIR/nvdcve.json DIR/detections.xml
//	QVT_WEB_BENCH=DIR/big.db go test -run '^$' -bench . -benchtime 20x ./internal/web/
//
// With QVT_WEB_BENCH_PG set to a PostgreSQL URL the benchmarks run on both
// engines (sub-benchmarks sqlite/… and postgres/…), on the same rows: a
// database (or search_path schema) without a store gets a copy of
// QVT_WEB_BENCH first, table by table (store.Copy), which takes a few
// minutes and is kept for the next run.
//
// Each list benchmark reads one page of 100 of one filter in one order and
// reports the median and 95th percentile of its runs (p50-ms, p95-ms); the
// targets are 100 and 250 ms. BenchmarkOverview reports the computation of
// the overview from the store (cold) and a page served from it (warm); the
// target is 300 ms.

// benchStores runs fn per engine with a store of a million findings: the
// SQLite file QVT_WEB_BENCH, and, with QVT_WEB_BENCH_PG, the same rows on
// PostgreSQL.
func benchStores(b *testing.B, fn func(b *testing.B, st *store.Store)) {
	path := os.Getenv("QVT_WEB_BENCH")
	if path == "" {
		b.Skip("set QVT_WEB_BENCH to a store with a million findings (see bench_test.go)")
	}
	locs := []string{path}
	if pg := os.Getenv("QVT_WEB_BENCH_PG"); pg != "" {
		ok, err := store.Exists(pg)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			start := time.Now()
			if _, err := store.Copy(context.Background(), path, pg, store.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
			b.Logf("copied %s to PostgreSQL in %v", path, time.Since(start).Round(time.Second))
		}
		locs = append(locs, pg)
	}
	for _, loc := range locs {
		st, err := store.OpenWith(context.Background(), loc, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchPrioritize(b, st)
		b.Run(st.Engine(), func(b *testing.B) { fn(b, st) })
		st.Close()
	}
}

// benchPrioritize gives a store without priorities (one imported before
// qvt computed them, or by a qvt gen without KEV and EPSS files) the
// fixture's KEV catalog and EPSS scores over its own CVEs, and the
// priorities they give, once: it is kept for the next run.
func benchPrioritize(b *testing.B, st *store.Store) {
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM (SELECT 1 FROM detections WHERE priority <> '' LIMIT 1) AS m").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		return
	}
	start := time.Now()
	if err := prioritizeFixture(context.Background(), st, []time.Time{time.Now().UTC()}, false); err != nil {
		b.Fatal(err)
	}
	b.Logf("prioritized the store in %v", time.Since(start).Round(time.Second))
}

// measure runs f once per iteration and reports the median and 95th
// percentile in milliseconds.
func measure(b *testing.B, f func() error) {
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)/2]), "p50-ms")
	b.ReportMetric(ms(ds[min(len(ds)-1, len(ds)*95/100)]), "p95-ms")
	b.ReportMetric(0, "ns/op")
}

// benchFilters picks filters from the store: every kind the list offers,
// with values common and rare.
func benchFilters(b *testing.B, st *store.Store) []string {
	db := st.DB()
	one := func(q string, args ...any) string {
		var s string
		if err := db.QueryRow(q, args...).Scan(&s); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		return s
	}
	// The same values on both engines: ties broken, first of an order.
	common := one("SELECT qid FROM detections WHERE type <> 'Info' GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 1")
	rare := one("SELECT qid FROM detections WHERE type <> 'Info' AND closed = '' GROUP BY qid HAVING count(*) = 3 ORDER BY qid LIMIT 1")
	host := one("SELECT min(host_id) FROM detections WHERE host_id > 1000 AND type <> 'Info'")
	name := one("SELECT COALESCE(NULLIF(fqdn, ''), NULLIF(dns, ''), ip) FROM hosts WHERE id = ?", host)
	tag := one("SELECT name FROM host_tags GROUP BY name ORDER BY count(*) DESC, name LIMIT 1")
	cve := one(`SELECT min(cve_id) FROM kb_cves WHERE qid IN (SELECT qid FROM detections
  WHERE type <> 'Info' GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 50)`)
	title := one("SELECT title FROM kb_vulns WHERE qid = ?", common)
	word := strings.Fields(title)[0]
	return []string{
		"", "status=all", "status=closed", "status=fixed", "status=gone", "status=ignored", "status=disabled", "status=New", "status=Active", "status=Re-Opened", "status=New,gone", "status=Re-Opened,disabled",
		"rating=Critical", "rating=High", "rating=Low", "rating=None",
		"due=overdue", "due=week",
		"host=" + host, "host=" + url.QueryEscape(name), "qid=" + common, "qid=" + rare, "cve=" + cve,
		"tag=" + url.QueryEscape(tag), "q=" + url.QueryEscape(word), "q=" + url.QueryEscape(title), "q=zzzz-no-such-title",
		// Exploitation evidence and priority.
		"priority=P1", "priority=P1,P2", "priority=P3", "priority=P4", "kev=1", "min_epss=0.1", "min_epss=0.5",
		"kev=1&status=all", "priority=P2&rating=Critical",
	}
}

func BenchmarkList(b *testing.B) { benchStores(b, benchList) }

func benchList(b *testing.B, st *store.Store) {
	s, err := New(st, Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// A server loads the KB titles and computes the overview when it
	// starts (Warm): the first text search does not pay for the titles, and
	// the walk for a common QID uses the overview's note of where its
	// findings are.
	start := time.Now()
	if err := s.titles.warm(ctx, st); err != nil {
		b.Fatal(err)
	}
	b.Logf("loading the KB titles: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := s.Overview(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("computing the overview: %v", time.Since(start).Round(time.Millisecond))
	for _, f := range benchFilters(b, st) {
		for _, sort := range sortChoices {
			for _, page := range []string{"first", "next"} {
				name := cmpOr(f, "open") + "/sort=" + sort + "/" + page
				v, _ := url.ParseQuery(f)
				v.Set("sort", sort)
				q, err := ParseQuery(v)
				if err != nil {
					b.Fatal(err)
				}
				if page == "next" {
					p, err := s.Findings(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					if p.Next == nil {
						continue
					}
					q.After = p.Next
				}
				b.Run(name, func(b *testing.B) {
					measure(b, func() error {
						_, err := s.Findings(ctx, q)
						return err
					})
				})
			}
		}
	}
}

func BenchmarkOverview(b *testing.B) { benchStores(b, benchOverview) }

func benchOverview(b *testing.B, st *store.Store) {
	s, err := New(st, Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		measure(b, func() error {
			_, err := s.buildOverview(ctx, "bench")
			return err
		})
	})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	fetch := func(path string) (int, error) {
		res, err := http.Get(hs.URL + path)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return 0, fmt.Errorf("%s: %d", path, res.StatusCode)
		}
		return len(body), err
	}
	if _, err := fetch("/"); err != nil { // the first build
		b.Fatal(err)
	}
	b.Run("warm-page", func(b *testing.B) {
		measure(b, func() error { _, err := fetch("/"); return err })
	})
	// The other pages, for the most common QID and a host with it.
	var qid, host int64
	err = st.DB().QueryRow(`SELECT qid, max(host_id) FROM detections
WHERE qid = (SELECT qid FROM detections GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 1) GROUP BY qid`).Scan(&qid, &host)
	if err != nil {
		b.Fatal(err)
	}
	p, err := s.Findings(ctx, Query{QID: int(qid), Status: "all", Limit: 1})
	if err != nil || len(p.Rows) == 0 {
		b.Fatalf("a finding of QID %d: %v", qid, err)
	}
	for _, page := range []string{"/findings", "/qid/" + strconv.FormatInt(qid, 10), "/host/" + strconv.FormatInt(p.Rows[0].HostID, 10),
		findingURL(p.Rows[0].Key), "/api/summary", "/api/findings?rating=Critical",
		"/findings?priority=P1,P2&sort=priority", "/plan?priority=P1", "/api/plan?kev=1", "/plan"} {
		n, err := fetch(page)
		if err != nil {
			// The other pages are still measured.
			b.Error(err)
			continue
		}
		b.Run(strings.ReplaceAll(page, "/", "_"), func(b *testing.B) {
			measure(b, func() error { _, err := fetch(page); return err })
		})
		b.Logf("%s: %d bytes", page, n)
	}
	// The weight of a first visit: the overview and everything it loads.
	total := 0
	for _, p := range []string{"/", s.assetURL("app.css"), s.assetURL("app.js"), s.assetURL("favicon.svg")} {
		n, err := fetch(p)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.Logf("first load of the overview: %d bytes (%s KB)", total, strconv.FormatFloat(float64(total)/1024, 'f', 1, 64))
}
