package web

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/environment"
	"qvt/internal/finding"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// A finding's timeline is in time order, whatever order its events were
// recorded in: a file imported late records older changes after newer
// ones, and a finding closed as gone was last reported before it closed.
func TestTimelineOrder(t *testing.T) {
	l := store.Life{FirstSeen: 100, LastSeen: 300, Changes: []store.Change{
		{At: 400, Event: "closed", Old: "", New: "gone"},
		{At: 200, Event: "status", Old: "New", New: "Active"},
		{At: 250, Event: "rating", Old: "High", New: "Critical"},
		{At: 200, Event: "deadline", Old: "2026-01-01", New: "2026-01-15"},
	}}
	var at []int64
	var what []string
	for _, it := range timeline(l) {
		at = append(at, it.At.Unix())
		what = append(what, it.What)
	}
	if want := []int64{100, 200, 200, 250, 300, 400}; !slices.Equal(at, want) {
		t.Errorf("timeline at %v, want %v (%q)", at, want, what)
	}
	// Events at the same time keep the order they were recorded in.
	if what[1] != "Qualys status" || what[2] != "Deadline" || what[4] != "Last reported" || what[5] != "Closed: gone" {
		t.Errorf("timeline %q", what)
	}
}

// The finding page names the environment policy its host is scored under,
// and shows its metrics in the CVSS table's environmental group.
func TestFindingEnvironment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		envs := environment.Set{{Name: "internet-facing", HostIDs: []int64{xssHostID}, Metrics: map[string]string{"mav": "n", "CR": "H", "CDP": "H"}}}
		if err := envs.Validate(); err != nil {
			t.Fatal(err)
		}
		s, hs := newServerAt(t, loc, Config{Environments: envs})
		key := url.PathEscape(finding.Key(xssIP, xssQID, 443))
		_, _, body := get(t, hs, "/finding/"+key)
		mustContain(t, "finding page without a policy", body, `<dd id="environment">none`)

		// The host scored under policy 1 of these environments.
		var fp string
		if err := s.st.DB().QueryRow("SELECT value FROM meta WHERE name = 'scoring_policy'").Scan(&fp); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"UPDATE hosts SET policy = 1 WHERE id = " + strconv.Itoa(xssHostID),
			// Its QID's score under the policy, as a rescore would store it.
			"CREATE TEMP TABLE s1 AS SELECT * FROM qid_scores WHERE policy = 0 AND qid = " + strconv.Itoa(xssQID) +
				"; UPDATE s1 SET policy = 1; INSERT INTO qid_scores SELECT * FROM s1; DROP TABLE s1",
			"UPDATE meta SET value = '" + fp[:strings.LastIndexByte(fp, '|')+1] + envs.Fingerprint() + "' WHERE name = 'scoring_policy'"} {
			if _, err := s.st.DB().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		var v FindingView
		_, _, api := get(t, hs, "/api/findings/"+key)
		if err := json.Unmarshal([]byte(api), &v); err != nil {
			t.Fatal(err)
		}
		if e := v.Environment; e == nil || e.Name != "internet-facing" || e.Changed || e.Metrics["MAV"] != "N" || e.Metrics["CR"] != "H" {
			t.Fatalf("environment %+v", v.Environment)
		}
		var env []MetricView
		for _, g := range v.Metrics {
			if g.Name == "Environmental" {
				env = g.Metrics
			}
		}
		got := map[string]string{}
		for _, m := range env {
			got[m.Abbr] = m.Value
		}
		// CDP is a v2 metric: not in this v3.1 vector.
		if len(got) != 2 || got["MAV"] != "N" || got["CR"] != "H" {
			t.Errorf("environmental group of the CVSS table: %+v", env)
		}
		_, _, body = get(t, hs, "/finding/"+key)
		mustContain(t, "finding page", body, `<dd id="environment">internet-facing`, "Modified Attack Vector", "Confidentiality Requirement")

		// Environments configured since: the page says the scores predate them.
		s.cfg.Environments = append(environment.Set{{Name: "lab", HostIDs: []int64{1}, Metrics: map[string]string{"CR": "L"}}}, envs...)
		_, _, body = get(t, hs, "/finding/"+key)
		mustContain(t, "finding page after a change of environments", body, "policy 1", "qvt rescore")
	})
}
