package web

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// The dashboard answers the same on SQLite and PostgreSQL: two stores
// with the same rows, the same requests, the same bytes. The list is
// asked every filter (with names in other cases, non-ASCII names, a
// network, a title word), in every order both ways, and walked page by
// page forwards and back; then the overview, a host and a QID.
func TestEnginesAnswerTheSame(t *testing.T) {
	lite, liteHS := newServerAt(t, filepath.Join(t.TempDir(), "qvt.db"), Config{})
	pg, pgHS := newServerAt(t, storetest.Postgres(t), Config{})
	ctx := context.Background()
	// Names SQLite's NOCASE and LIKE fold only in part (ASCII letters),
	// and tags whose byte order is not a dictionary's.
	host := int64(0)
	if err := lite.st.DB().QueryRow("SELECT min(id) FROM hosts WHERE dns <> '' AND id <> ?", xssHostID).Scan(&host); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Server{lite, pg} {
		for _, q := range []string{
			"UPDATE hosts SET dns = 'Web-Ä.Example.COM', fqdn = '' WHERE id = " + strconv.FormatInt(host, 10),
			"INSERT INTO host_tags (host_id, name) VALUES (" + strconv.FormatInt(host, 10) + ", 'Zone-Ä'), (" +
				strconv.FormatInt(host, 10) + ", 'a-lower'), (" + strconv.FormatInt(host, 10) + ", 'B-upper')",
		} {
			if _, err := s.st.DB().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %s: %v", s.st.Engine(), q, err)
			}
		}
		// The lists count with the overview, as a running server does.
		if _, err := s.Overview(ctx); err != nil {
			t.Fatalf("%s: %v", s.st.Engine(), err)
		}
	}
	one := func(q string, args ...any) string {
		t.Helper()
		var v string
		if err := lite.st.DB().QueryRow(q, args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	common := one("SELECT qid FROM detections WHERE type <> 'Info' GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 1")
	rare := one("SELECT qid FROM detections WHERE type <> 'Info' GROUP BY qid HAVING count(*) = 1 ORDER BY qid LIMIT 1")
	cve := one("SELECT cve_id FROM kb_cves WHERE qid = ? ORDER BY cve_id LIMIT 1", common)
	other := one("SELECT min(id) FROM hosts WHERE dns <> '' AND id NOT IN (?, ?)", host, xssHostID)
	ip := one("SELECT ip FROM hosts WHERE id = ?", other)
	dns := one("SELECT dns FROM hosts WHERE id = ?", other)
	tag := one("SELECT name FROM host_tags WHERE host_id = ? ORDER BY name LIMIT 1", other)
	word := strings.Fields(one("SELECT title FROM kb_vulns WHERE qid = ?", common))[0]
	prefix, _ := strings.CutSuffix(ip[:strings.LastIndexByte(ip, '.')], "")

	filters := []string{"", "rating=Critical", "rating=High&rating=Low", "rating=None", "due=overdue", "due=week",
		"due=overdue&rating=High", "status=New,gone", "status=Re-Opened,disabled", "status=closed,Active",
		"host=" + strconv.FormatInt(host, 10), "host=" + ip, "host=" + strings.ToUpper(dns), "host=" + strings.SplitN(dns, ".", 2)[0],
		"host=" + url.QueryEscape(prefix+".0/24"), "host=10.0.0.0/8", "host=web-ä", "host=WEB-Ä", "host=web-Ä", "host=WEB-Ä.example.com",
		"host=no-such-host", "qid=" + common, "qid=" + rare, "qid=" + strconv.Itoa(xssQID), "cve=" + cve, "cve=CVE-1999-0001",
		"tag=" + url.QueryEscape(strings.ToUpper(tag)), "tag=zone-ä", "tag=ZONE-Ä", "tag=" + url.QueryEscape(`dmz <i>"quoted"</i>`),
		"q=" + url.QueryEscape(strings.ToUpper(word)), "q=hostile", "q=zzzz-no-such-title",
		"qid=" + common + "&status=all&rating=High", "status=fixed&sort=host", "tag=a-lower&due=overdue",
		// Exploitation evidence and priority.
		"priority=P1", "priority=P2,P3", "priority=P4&status=all", "kev=1", "kev=1&status=closed", "min_epss=0.1",
		"min_epss=0.5&priority=P2", "qids=" + common + "," + rare, "priority=P1&due=overdue"}
	for _, st := range finding.StatusFilters {
		filters = append(filters, "status="+url.QueryEscape(st))
	}
	get := func(t *testing.T, srv *Server, path string) string {
		t.Helper()
		hs := liteHS
		if srv == pg {
			hs = pgHS
		}
		status, _, body := get(t, hs, path)
		if status != 200 {
			t.Fatalf("%s %s: status %d: %.300s", srv.st.Engine(), path, status, body)
		}
		return body
	}
	same := func(t *testing.T, path string) string {
		t.Helper()
		a, b := get(t, lite, path), get(t, pg, path)
		if a != b {
			t.Errorf("%s: the engines differ:\nsqlite:   %s\npostgres: %s", path, textDiff(a, b), textDiff(b, a))
		}
		return a
	}
	rows := 0
	for _, f := range filters {
		for _, sort := range sortChoices {
			for _, dir := range []string{"", "&dir=desc"} {
				// Small pages, walked to the end (at most 8 pages) and a page
				// back from there.
				path := "/api/findings?limit=9&sort=" + sort + dir
				if f != "" {
					path += "&" + f
				}
				var prev string
				for page := 0; path != "" && page < 8; page++ {
					var p apiPage
					if err := json.Unmarshal([]byte(same(t, path)), &p); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					rows += len(p.Findings)
					path, prev = p.NextURL, p.PrevURL
				}
				if prev != "" {
					same(t, prev)
				}
			}
		}
	}
	if rows < 2000 {
		t.Errorf("the lists compared hold %d rows: too few to prove anything", rows)
	}
	// The list pages as HTML, and the scoped pages of a host and a QID.
	for _, path := range []string{"/findings?rating=High&sort=deadline", "/findings?host=WEB-Ä&status=all",
		"/host/" + strconv.FormatInt(host, 10), "/qid/" + common, "/api/hosts/" + strconv.FormatInt(host, 10),
		"/api/hosts/" + other, "/api/qids/" + common, "/api/qids/" + strconv.Itoa(xssQID),
		// The plan, whole and filtered, and a finding with its priority's history.
		"/plan", "/api/plan", "/api/plan?priority=P1,P2", "/api/plan?kev=1&host=" + strconv.FormatInt(host, 10),
		"/api/plan?min_epss=0.1&status=all", "/findings?priority=P1,P2&sort=priority", "/findings?kev=1&sort=priority&dir=desc"} {
		same(t, path)
	}
	// The overview, but for how long it took to compute.
	var a, b map[string]any
	json.Unmarshal([]byte(get(t, lite, "/api/summary")), &a)
	json.Unmarshal([]byte(get(t, pg, "/api/summary")), &b)
	delete(a, "build_ns")
	delete(b, "build_ns")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("/api/summary: the engines differ:\nsqlite:   %s\npostgres: %s", textDiff(string(ja), string(jb)), textDiff(string(jb), string(ja)))
	}
	// Byte order, as SQLite's BINARY collation: "Zone-Ä" before "a-lower".
	if !strings.Contains(string(ja), `"Workstations","Zone-Ä","a-lower"]`) {
		t.Errorf("tags not in byte order: %v", a["tags"])
	}
	// The downloads of a list.
	t.Run("downloads", func(t *testing.T) {
		for _, path := range []string{"/findings.csv?rating=High&sort=deadline", "/findings.json?status=all&host=WEB-Ä",
			"/findings.csv?priority=P1&kev=1", "/findings.json?min_epss=0.1&status=all"} {
			same(t, path)
		}
	})
}

// textDiff is a from where it starts to differ from b, shortened.
func textDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	start := max(0, i-80)
	return "…" + a[start:min(len(a), i+160)]
}
