package assets

import (
	"testing"
	"time"

	"qvt/internal/publish/assets/assetstest"
	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/publishtest"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// --init adds the priority attributes with their kinds; finding objects
// carry the exploitation evidence and priority and follow them; a
// host's Overdue counts findings past their due date.
func TestPriorityAttributes(t *testing.T) { storetest.Each(t, testPriorityAttributes) }

func testPriorityAttributes(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, _ := newTarget(t, srv, func(c *Config) { c.Attributes = map[string]string{"epss": "EPSS Score"} })
	initSchema(t, tg)
	kinds := map[string]int{}
	for _, a := range srv.Types()["Vulnerability Finding"].Attrs {
		kinds[a.Name] = a.DefaultType
	}
	for name, kind := range map[string]int{
		"Priority": assetstest.Text, "Priority Reason": assetstest.Text, "Due Date": assetstest.Date, "KEV": assetstest.Boolean,
		"KEV CVEs": assetstest.Text, "KEV Date Added": assetstest.Date, "KEV Due Date": assetstest.Date, "KEV Ransomware": assetstest.Boolean,
		"EPSS Score": assetstest.Double, "EPSS Percentile": assetstest.Double, "EPSS CVE": assetstest.Text, "QDS": assetstest.Integer,
		"Threat Intel": assetstest.Text,
	} {
		if k, ok := kinds[name]; !ok || k != kind {
			t.Errorf("attribute %s: kind %d (there: %v), want %d", name, k, ok, kind)
		}
	}

	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	kev := []store.KEVEntry{publishtest.KEV("CVE-2020-15778", "2026-01-02", true)}
	epss := []store.EPSSScore{{CVE: "CVE-2020-15778", EPSS: 0.23456, Percentile: 0.97001}}
	publishtest.Prioritize(t, st, 1_767_225_600, kev, epss)
	// On 2026-01-17 105936 (due 2026-01-16 as P1, breach date 2026-01-19)
	// is overdue, and 1001 (Critical, breach date 2026-01-15).
	jan17 := time.Date(2026, 1, 17, 9, 0, 0, 0, time.UTC)
	if rep, _, err := publishRun(t, tg, st, false, jan17); err != nil || rep.Failed != 0 {
		t.Fatalf("publish: %v %s", err, rep)
	}
	o := srv.Objects("Vulnerability Finding")["10.0.0.1:105936:0"]
	for attr, want := range map[string]string{
		"Priority": "P1", "Priority Reason": "known exploited", "Due Date": "2026-01-16", "Breach Date": "2026-01-19",
		"KEV": "true", "KEV CVEs": "CVE-2020-15778", "KEV Date Added": "2026-01-02", "KEV Due Date": "2026-01-23", "KEV Ransomware": "true",
		"EPSS Score": "0.23456", "EPSS Percentile": "0.97001", "EPSS CVE": "CVE-2020-15778", "QDS": "",
	} {
		if got := value(o, attr); got != want {
			t.Errorf("105936: %s = %q, want %q", attr, got, want)
		}
	}
	if o := srv.Objects("Vulnerability Finding")["10.0.0.1:1003:22"]; value(o, "Priority") != "P4" || value(o, "KEV") != "false" || value(o, "EPSS Score") != "" {
		t.Errorf("1003: %v", o.Values)
	}
	if got := value(srv.Objects("Host")["10.0.0.1"], "Overdue"); got != "2" {
		t.Errorf("host 42 overdue %s, want 2", got)
	}

	// The CVE leaves KEV: P2 by its EPSS, due at its breach date, and
	// no longer overdue on 2026-01-18.
	publishtest.Prioritize(t, st, 1_767_312_000, nil, epss)
	jan18 := jan17.Add(24 * time.Hour)
	rep, _, err := publishRun(t, tg, st, false, jan18)
	if err != nil || rep.Failed != 0 || rep.Created != 0 {
		t.Fatalf("publish after leaving KEV: %v %s", err, rep)
	}
	o = srv.Objects("Vulnerability Finding")["10.0.0.1:105936:0"]
	for attr, want := range map[string]string{
		"Priority": "P2", "Priority Reason": "likely exploited", "Due Date": "2026-01-19", "KEV": "false", "KEV CVEs": "",
		"KEV Date Added": "", "KEV Ransomware": "false", "EPSS Score": "0.23456",
	} {
		if got := value(o, attr); got != want {
			t.Errorf("105936 after leaving KEV: %s = %q, want %q", attr, got, want)
		}
	}
	if got := value(srv.Objects("Host")["10.0.0.1"], "Overdue"); got != "1" {
		t.Errorf("host 42 overdue %s after leaving KEV, want 1", got)
	}
}
