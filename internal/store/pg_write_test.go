package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// The engines agree: the same sequence of writes (a first import, a
// rescan with changes, a fix, a reopening, a finding gone, older data, a
// tcp/udp pair in and out of order, a renamed host, a host twice in a
// batch, the same data again, KB and NVD updates, scoring and rerating)
// leaves every table of an SQLite store and of a PostgreSQL store the
// same, row for row (history in each finding's order), and each write
// counts the same Stats. PostgreSQL writes in bulk (COPY and set-based
// statements), SQLite row by row: this is what says they mean the same.
func TestEnginesWriteAlike(t *testing.T) {
	ctx := context.Background()
	// Chunks of a few rows: the scoring reads and writes cross their
	// boundaries many times.
	defer func(c, f int) { cursorRows, scoreFlush = c, f }(cursorRows, scoreFlush)
	cursorRows, scoreFlush = 3, 5
	type result struct {
		tables map[string][]string
		stats  []string
		inputs []string
	}
	var results []result
	var names []string
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := openStore(t, b.New(t))
			var r result
			for i, step := range engineSteps() {
				err := st.Write(ctx, func(tx *Tx) error {
					if err := step(tx, &r.inputs); err != nil {
						return err
					}
					r.stats = append(r.stats, fmt.Sprintf("step %d: %+v", i, tx.Stats))
					return nil
				})
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			r.tables = dumpTables(t, st)
			results = append(results, r)
			names = append(names, b.Name)
		})
	}
	if len(results) < 2 {
		t.Skip("one engine only")
	}
	a, b := results[0], results[1]
	if len(a.tables["detections"]) < 10 || len(a.tables["history"]) < 8 {
		t.Fatalf("the sequence wrote %d detections and %d history rows: too few to compare",
			len(a.tables["detections"]), len(a.tables["history"]))
	}
	for _, pair := range [][2][]string{{a.stats, b.stats}, {a.inputs, b.inputs}} {
		if d := diffLines(pair[0], pair[1]); d != "" {
			t.Errorf("%s and %s differ:\n%s", names[0], names[1], d)
		}
	}
	for _, tbl := range engineTables {
		if d := diffLines(a.tables[tbl.name], b.tables[tbl.name]); d != "" {
			t.Errorf("table %s: %s and %s differ:\n%s", tbl.name, names[0], names[1], d)
		}
	}
}

// diffLines lists the lines where a and b differ, "" when they agree.
func diffLines(a, b []string) string {
	var sb strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "  row %d:\n   - %s\n   + %s\n", i, x, y)
		}
	}
	return sb.String()
}

// engineTables are the tables compared, each in a full order of its key;
// history without its id (the order of ids across findings is the order
// the rows were written, which a set-based statement does not fix), in
// each finding's order.
var engineTables = []struct{ name, query string }{
	{"hosts", "SELECT * FROM hosts ORDER BY id"},
	{"host_tags", "SELECT * FROM host_tags ORDER BY host_id, name"},
	{"detections", "SELECT * FROM detections ORDER BY host_id, qid, port"},
	{"history", "SELECT host_id, qid, port, at, event, old, new FROM history ORDER BY host_id, qid, port, id"},
	{"kb_vulns", "SELECT * FROM kb_vulns ORDER BY qid"},
	{"kb_cves", "SELECT * FROM kb_cves ORDER BY qid, ord"},
	{"nvd_cves", "SELECT * FROM nvd_cves ORDER BY id"},
	{"nvd_metrics", "SELECT * FROM nvd_metrics ORDER BY cve_id, ord"},
	{"qid_scores", "SELECT * FROM qid_scores ORDER BY qid, policy"},
	{"rescore_queue", "SELECT * FROM rescore_queue ORDER BY qid"},
	{"meta", "SELECT name, value FROM meta WHERE name = 'rev'"},
}

// dumpTables reads every compared table as lines of name=value, columns
// in name order (the engines may order added columns differently).
func dumpTables(t *testing.T, st *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range engineTables {
		rows, err := st.DB().Query(tbl.query)
		if err != nil {
			t.Fatalf("%s: %v", tbl.name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", tbl.name, err)
			}
			fields := make([]string, len(cols))
			for i, v := range vals {
				fields[i] = cols[i] + "=" + showValue(v)
			}
			sort.Strings(fields)
			out[tbl.name] = append(out[tbl.name], strings.Join(fields, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tbl.name, err)
		}
		rows.Close()
	}
	return out
}

// showValue spells a column value the same whichever driver read it.
func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(string(x))
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

const (
	eDay1 = int64(1_700_000_000)
	eDay2 = eDay1 + 86400
	eDay3 = eDay2 + 86400
	eDay4 = eDay3 + 86400
)

// eTime is day (1-based from 2023-11-14) at 22:00 UTC, as Qualys spells it.
func eTime(day int) string {
	return fmt.Sprintf("2023-11-%02dT22:00:00Z", 13+day)
}

func eDet(qid, port int, proto, status string, found int) qualys.Detection {
	return qualys.Detection{QID: qid, Port: port, Protocol: proto, Type: "Confirmed", Severity: 3 + qid%3,
		Status: status, FirstFound: eTime(1), LastFound: eTime(found), TimesFound: found,
		Results: fmt.Sprintf("qid %d on %d/%s, day %d", qid, port, proto, found), LastTest: eTime(found)}
}

func eHost(id int64, ip string, scanDay int, tags []qualys.Tag, ds ...qualys.Detection) HostRecord {
	h := &qualys.Host{ID: id, IP: ip, DNS: fmt.Sprintf("host%d.example", id), OS: "Linux",
		LastVMScanned: eTime(scanDay), Tags: tags, Detections: ds}
	dv := make([]Derived, len(ds))
	for i, d := range ds {
		dv[i] = Derived{VulnScore: []string{"Low", "Medium", "High", "Critical"}[d.Severity%4],
			BreachDate: fmt.Sprintf("2023-12-%02d", 1+d.Severity)}
	}
	return HostRecord{Host: h, Policy: int(id % 2), Derived: dv}
}

func eVuln(qid int, title string, cves ...string) *qualys.Vuln {
	return &qualys.Vuln{QID: qid, VulnType: "Vulnerability", Severity: 3 + qid%3, Title: title,
		Category: "General", Published: "2023-01-02T00:00:00Z", Patchable: qid%2 == 0, CVEs: cves,
		CVSSv3:     qualys.CVSS{Base: "7.5", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Version: "3.1"},
		VendorRefs: []qualys.Ref{{ID: "VR-" + strconv.Itoa(qid), URL: "https://vendor.example/" + strconv.Itoa(qid)}}}
}

func eCVE(id string, score float64, kev bool) *nvd.CVE {
	c := &nvd.CVE{ID: id, SourceIdentifier: "cve@mitre.org", Published: "2023-01-01T00:00:00.000",
		LastModified: "2023-02-01T00:00:00.000", Status: "Analyzed", Description: "about " + id,
		CWEs: []string{"CWE-79"},
		Metrics: []nvd.Metric{{Version: "3.1", Source: "nvd@nist.gov", Type: "Primary",
			Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", BaseScore: score, Severity: "CRITICAL"},
			{Version: "2.0", Source: "nvd@nist.gov", Type: "Primary", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", BaseScore: 7.5, Severity: "HIGH"}}}
	if kev {
		c.KEV = &nvd.KEV{Added: "2023-03-01", Due: "2023-03-22", RequiredAction: "Patch", Name: id + " flaw"}
	}
	return c
}

// engineSteps is the sequence of transactions both engines write; each
// may note what it read in inputs.
func engineSteps() []func(tx *Tx, inputs *[]string) error {
	tags := []qualys.Tag{{ID: 1, Name: "prod"}, {ID: 2, Name: "web"}}
	fixed := func(d qualys.Detection, day int) qualys.Detection {
		d.Status, d.LastFixed = "Fixed", eTime(day)
		return d
	}
	info := eDet(103, 0, "", "Active", 1)
	info.Type = "Info"
	ignored := eDet(106, 443, "tcp", "Active", 1)
	ignored.Ignored = true
	disabled := eDet(107, 443, "tcp", "Active", 1)
	disabled.Disabled = true
	reopened := eDet(105, 8080, "tcp", "Re-Opened", 3)
	reopened.TimesReopened, reopened.LastReopened = 1, eTime(3)

	return []func(*Tx, *[]string) error{
		// 0: the KB, NVD and a first import.
		func(tx *Tx, _ *[]string) error {
			if err := tx.PutVulns([]*qualys.Vuln{eVuln(100, "TLS", "CVE-2023-0001", "CVE-2023-0002"),
				eVuln(101, "SSH"), eVuln(102, "HTTP", "CVE-2023-0003"), eVuln(104, "DNS", "CVE-2023-0001"),
				eVuln(105, "Java", "CVE-2023-0004")}); err != nil {
				return err
			}
			if err := tx.PutCVEs([]*nvd.CVE{eCVE("CVE-2023-0001", 9.8, true), eCVE("CVE-2023-0002", 5.3, false),
				eCVE("CVE-2023-0003", 7.1, false)}); err != nil {
				return err
			}
			return tx.PutHosts([]HostRecord{
				eHost(1, "10.0.0.1", 1, tags, eDet(100, 443, "tcp", "Active", 1), eDet(101, 0, "", "New", 1),
					eDet(102, 22, "tcp", "Active", 1), info, eDet(104, 53, "tcp", "Active", 1), eDet(104, 53, "udp", "Active", 1),
					fixed(eDet(105, 8080, "tcp", "Active", 1), 1)),
				eHost(2, "10.0.0.2", 1, []qualys.Tag{{ID: 3, Name: "db"}, {ID: 4, Name: "db"}}, eDet(100, 443, "tcp", "Active", 1), ignored),
				eHost(3, "10.0.0.3", 1, nil, eDet(100, 443, "tcp", "New", 1), disabled),
				eHost(4, "10.0.0.4", 1, nil, eDet(100, 443, "tcp", "Active", 1)),
			}, eDay1)
		},
		// 1: a rescan with changes, a renamed host, a new host, a host
		// twice in the batch, KB and NVD changes.
		func(tx *Tx, _ *[]string) error {
			// QID 110 and CVE-2023-0005 twice in their batches: written
			// twice, in order.
			if err := tx.PutVulns([]*qualys.Vuln{eVuln(100, "TLS weak", "CVE-2023-0002"), eVuln(101, "SSH"),
				eVuln(110, "New QID", "CVE-2023-0005"), eVuln(110, "New QID, revised", "CVE-2023-0005", "CVE-2023-0001")}); err != nil {
				return err
			}
			if err := tx.PutCVEs([]*nvd.CVE{eCVE("CVE-2023-0001", 9.8, true), eCVE("CVE-2023-0002", 6.1, true),
				eCVE("CVE-2023-0005", 4.0, false), eCVE("CVE-2023-0005", 4.4, true)}); err != nil {
				return err
			}
			if err := tx.QueueQIDs([]int{101, 999, 101}); err != nil {
				return err
			}
			renamed := eHost(2, "10.0.0.22", 1, []qualys.Tag{{ID: 3, Name: "db"}}, eDet(100, 443, "tcp", "Active", 1), ignored)
			return tx.PutHosts([]HostRecord{
				eHost(1, "10.0.0.1", 2, tags, eDet(100, 443, "tcp", "Active", 2), eDet(101, 0, "", "Active", 2),
					info, eDet(104, 53, "udp", "Active", 2), eDet(104, 53, "tcp", "Active", 1),
					fixed(eDet(105, 8080, "tcp", "Active", 1), 1), eDet(108, 443, "tcp", "New", 2)),
				renamed,
				eHost(5, "10.0.0.5", 2, nil, eDet(100, 443, "tcp", "New", 2), eDet(109, 80, "tcp", "New", 2)),
				eHost(3, "10.0.0.3", 1, nil, eDet(100, 443, "tcp", "New", 1), disabled),
				eHost(3, "10.0.0.3", 2, nil, fixed(eDet(100, 443, "tcp", "Active", 2), 2)),
			}, eDay2)
		},
		// 2: a reopening, a rerating, a tcp/udp pair out of order (the
		// older first, Fixed, then the newer), stale data, new tags.
		func(tx *Tx, _ *[]string) error {
			h1 := eHost(1, "10.0.0.1", 3, tags, eDet(100, 443, "tcp", "Active", 3), eDet(101, 0, "", "Active", 3),
				fixed(eDet(104, 53, "tcp", "Active", 2), 3), eDet(104, 53, "udp", "Active", 3),
				reopened, eDet(108, 443, "tcp", "Active", 3))
			h1.Derived[0].VulnScore, h1.Derived[0].BreachDate = "Critical", "2023-11-30"
			err := tx.PutHosts([]HostRecord{
				h1,
				eHost(2, "10.0.0.22", 1, []qualys.Tag{{ID: 5, Name: "pci"}}, eDet(100, 443, "tcp", "Active", 1), ignored),
			}, eDay3)
			if err != nil {
				return err
			}
			// Data older than the store's for host 4, with a new host.
			return tx.PutHosts([]HostRecord{
				eHost(4, "10.0.0.4", 0, nil, fixed(eDet(100, 443, "tcp", "Active", 0), 0)),
				eHost(6, "10.0.0.6", 0, nil, eDet(100, 443, "tcp", "Active", 0)),
			}, eDay1-86400)
		},
		// 3: the same data again: nothing changes, not even the revision.
		func(tx *Tx, _ *[]string) error {
			h1 := eHost(1, "10.0.0.1", 3, tags, eDet(100, 443, "tcp", "Active", 3), eDet(101, 0, "", "Active", 3),
				fixed(eDet(104, 53, "tcp", "Active", 2), 3), eDet(104, 53, "udp", "Active", 3),
				reopened, eDet(108, 443, "tcp", "Active", 3))
			h1.Derived[0].VulnScore, h1.Derived[0].BreachDate = "Critical", "2023-11-30"
			return tx.PutHosts([]HostRecord{h1}, eDay3)
		},
		// 4: a host whose row is gone while its detections stay (nothing
		// qvt does): written again, it is a new host whose detections the
		// store holds already.
		func(tx *Tx, _ *[]string) error {
			if err := tx.exec("DELETE FROM hosts WHERE id = 6"); err != nil {
				return err
			}
			return tx.PutHosts([]HostRecord{
				eHost(6, "10.0.0.6", 2, nil, fixed(eDet(100, 443, "tcp", "Active", 2), 2), eDet(101, 0, "", "New", 2)),
				eHost(7, "10.0.0.7", 2, nil, eDet(100, 443, "tcp", "Active", 2), eDet(100, 443, "udp", "Active", 2)),
			}, eDay3)
		},
		// 5: scoring, rerating, a policy change and rescoring.
		func(tx *Tx, inputs *[]string) error {
			if err := eScore(tx, inputs, eDay4); err != nil {
				return err
			}
			n, err := tx.ReassignPolicies(func(id int64, ips, tags []string) int {
				if len(tags) > 0 && tags[0] == "pci" {
					return 3
				}
				return int(id % 3)
			})
			if err != nil {
				return err
			}
			*inputs = append(*inputs, fmt.Sprintf("reassigned %d", n))
			if err := tx.QueueAll(); err != nil {
				return err
			}
			return eScore(tx, inputs, eDay4+3600)
		},
	}
}

// eScore scores the queued QIDs under policies 0 to 3 and rerates their
// detections, noting the scoring inputs read and the ratings read back.
func eScore(tx *Tx, inputs *[]string, at int64) error {
	n, err := tx.Queued()
	if err != nil {
		return err
	}
	*inputs = append(*inputs, fmt.Sprintf("queued %d", n))
	err = tx.ScoreInputs(func(in *assess.QIDInput) error {
		var cves []string
		for _, c := range in.CVEs {
			cves = append(cves, fmt.Sprintf("%s%v", c, in.NVD[c]))
		}
		*inputs = append(*inputs, fmt.Sprintf("input %d sev %d %s %d %s", in.QID, in.Severity, in.KBv3Vector, in.Published, strings.Join(cves, ",")))
		for p := 0; p <= 3; p++ {
			s := assess.Score{QID: in.QID, Rating: []string{"", "Low", "Medium", "High", "Critical"}[(in.QID+p)%5]}
			if len(in.CVEs) > 0 {
				s.CVEID = in.CVEs[0]
				if ms := in.NVD[in.CVEs[0]]; len(ms) > 0 {
					s.HasVector, s.Version, s.Vector, s.Source = true, ms[0].Version, ms[0].Vector, "nvd"
					s.Base, s.Temporal, s.Env = ms[0].BaseScore, ms[0].BaseScore-0.5, ms[0].BaseScore-float64(p)/3
				}
			}
			if err := tx.PutScore(p, &s, in.Severity, in.Published); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ratings, err := tx.Ratings()
	if err != nil {
		return err
	}
	var keys []string
	for k, r := range ratings {
		env := "none"
		if r.Env != nil {
			env = fmt.Sprint(*r.Env)
		}
		risk := "none"
		if r.Risk != nil {
			risk = fmt.Sprintf("%v %v %s %v %v %v", r.Risk.KEV, r.Risk.KEVRansomware, r.Risk.KEVDateAdded,
				ptr(r.Risk.EPSS), ptr(r.Risk.Percentile), r.Risk.ThreatIntel)
		}
		keys = append(keys, fmt.Sprintf("rating %d/%d %s %d %d env %s risk %s", k.QID, k.Policy, r.Rating, r.KBSeverity, r.Published, env, risk))
	}
	sort.Strings(keys)
	*inputs = append(*inputs, keys...)
	err = tx.Rerate(func(in RateInput) Derived {
		r := in.Score.Rating
		if r == "" {
			r = "Sev" + strconv.Itoa(in.Severity)
		}
		return Derived{VulnScore: r, BreachDate: fmt.Sprintf("deadline %d+%d", in.FirstFound, in.Policy*7)}
	}, at, false)
	if err != nil {
		return err
	}
	return tx.ClearQueue()
}

func ptr(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// Every statement of a PostgreSQL write is planned for the tables as they
// are at its run. pgx prepares the statements it runs again, and the
// server would otherwise keep a generic plan made for the empty tables of
// a first import: each batch then read the whole hosts table to find its
// hosts, most of an import of ten million detections.
func TestPGWritePlansEachRun(t *testing.T) {
	st := openStore(t, storetest.Postgres(t))
	var mode string
	err := st.Write(context.Background(), func(tx *Tx) error {
		return tx.query("SELECT current_setting('plan_cache_mode')", func(c Cols) error { mode = c.ColumnText(0); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if mode != "force_custom_plan" {
		t.Errorf("a write plans with plan_cache_mode %q, want force_custom_plan", mode)
	}
}
