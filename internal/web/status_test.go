package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"qvt/internal/app"
	"qvt/internal/finding"
	"qvt/internal/store/storetest"
	"qvt/internal/web"
)

// Every status filter selects the same findings in the dashboard's API,
// its CSV and JSON downloads and qvt export --status of the same store.
func TestStatusFiltersMatchExport(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, base, _ := web.NewFixtureServerAt(t, loc)
		db := loc
		fetch := func(path string) []byte {
			t.Helper()
			res, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", path, res.StatusCode, b)
			}
			return b
		}
		states := map[string]int{} // findings by state, from status=all
		// Every filter, then lists of them.
		filters := slices.Concat(finding.StatusFilters, []string{"New,gone", "re-opened, FIXED ,disabled", "open,ignored", "closed,Active", "New,Active,Re-Opened"})
		for pass, filter := range slices.Concat(filters, filters) {
			if pass == len(filters) {
				// Again with the overview, whose counts the list uses.
				if _, err := s.Overview(context.Background()); err != nil {
					t.Fatal(err)
				}
				clear(states)
			}
			// Written as a person might type it.
			typed := filter
			if filter == "fixed" {
				typed = "Fixed"
			} else if filter == "gone" {
				typed = "GONE"
			}
			// The API, page by page.
			api := map[string]bool{}
			next := "/api/findings?" + url.Values{"status": {typed}, "limit": {"1000"}}.Encode()
			for next != "" {
				var p struct {
					Findings []struct {
						Key          string `json:"key"`
						Status       string `json:"status"`
						Closed       bool   `json:"closed"`
						ClosedReason string `json:"closed_reason"`
					} `json:"findings"`
					NextURL string `json:"next_url"`
				}
				if err := json.Unmarshal(fetch(next), &p); err != nil {
					t.Fatalf("%s: %v", next, err)
				}
				for _, r := range p.Findings {
					api[r.Key] = true
					if r.Closed != (r.ClosedReason != "") {
						t.Errorf("%s: %s closed %v with reason %q", next, r.Key, r.Closed, r.ClosedReason)
					}
					if filter == "all" {
						states[finding.State(r.Status, r.ClosedReason)]++
					}
				}
				next = p.NextURL
			}
			// The downloads.
			v := url.Values{"status": {typed}}.Encode()
			records, err := csv.NewReader(bytes.NewReader(fetch("/findings.csv?" + v))).ReadAll()
			if err != nil || len(records) == 0 {
				t.Fatalf("findings.csv?%s: %v", v, err)
			}
			col := slices.Index(records[0], "key")
			csvKeys := map[string]bool{}
			for _, rec := range records[1:] {
				csvKeys[rec[col]] = true
			}
			var rows []struct{ Key string }
			if err := json.Unmarshal(fetch("/findings.json?"+v), &rows); err != nil {
				t.Fatalf("findings.json?%s: %v", v, err)
			}
			jsonKeys := map[string]bool{}
			for _, r := range rows {
				jsonKeys[r.Key] = true
			}
			// qvt export of the same store.
			var out, errb bytes.Buffer
			args := []string{"--db", db, "export", "--format", "json", "--status", typed}
			if code := app.Run(context.Background(), args, &out, &errb, func(string) string { return "" }); code != 0 {
				t.Fatalf("qvt %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
			}
			var exported []struct{ Key string }
			if err := json.Unmarshal(out.Bytes(), &exported); err != nil {
				t.Fatalf("qvt export --status %s: %v", typed, err)
			}
			want := map[string]bool{}
			for _, r := range exported {
				want[r.Key] = true
			}
			for name, got := range map[string]map[string]bool{"/api/findings": api, "findings.csv": csvKeys, "findings.json": jsonKeys} {
				if !maps.Equal(got, want) {
					t.Errorf("status=%s: %s has %d findings, qvt export --status %s %d; %s", typed, name, len(got), typed, len(want), diff(got, want))
				}
			}
		}
		// Every state has findings in the fixture, so each filter is tested
		// on findings it must select and findings it must leave out.
		for _, st := range finding.States {
			if states[st] == 0 {
				t.Errorf("the fixture has no finding in state %s: the test proves nothing for it (%v)", st, states)
			}
		}
	})
}

// diff names a key in one set and not the other.
func diff(got, want map[string]bool) string {
	for k := range want {
		if !got[k] {
			return "missing " + k
		}
	}
	for k := range got {
		if !want[k] {
			return "unexpected " + k
		}
	}
	return "same keys"
}

// A finding in the API carries the export's record: the same fields, of
// the same names and values (closed is a bool, closed_reason the reason).
func TestFindingAPIIsTheExportRecord(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		_, base, _ := web.NewFixtureServerAt(t, loc)
		var out, errb bytes.Buffer
		args := []string{"--db", loc, "export", "--format", "json", "--status", "all"}
		if code := app.Run(context.Background(), args, &out, &errb, func(string) string { return "" }); code != 0 {
			t.Fatalf("qvt %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		var records []map[string]any
		if err := json.Unmarshal(out.Bytes(), &records); err != nil {
			t.Fatal(err)
		}
		// One finding of each state.
		seen := map[string]bool{}
		for _, rec := range records {
			reason, _ := rec["closed_reason"].(string)
			state := finding.State(rec["status"].(string), reason)
			if seen[state] {
				continue
			}
			seen[state] = true
			key := rec["key"].(string)
			res, err := http.Get(base + "/api/findings/" + url.PathEscape(key))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			err = json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("/api/findings/%s: %d %v", key, res.StatusCode, err)
			}
			if closed, ok := got["closed"].(bool); !ok || closed != (reason != "") {
				t.Errorf("/api/findings/%s (%s): closed %#v, want the bool %v", key, state, got["closed"], reason != "")
			}
			for name, want := range rec {
				if g, ok := got[name]; !ok || !reflectEqual(g, want) {
					t.Errorf("/api/findings/%s (%s): %s = %#v, export says %#v", key, state, name, g, want)
				}
			}
		}
		if len(seen) != len(finding.States) {
			t.Errorf("the export has findings of states %v, want all of %v", seen, finding.States)
		}
	})
}

func reflectEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// The findings list's status select offers every status filter, each of
// which lists its findings.
func TestStatusSelectOffersEveryFilter(t *testing.T) {
	_, base, _ := web.NewFixtureServer(t)
	res, err := http.Get(base + "/findings?status=ignored")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/findings?status=ignored: %d", res.StatusCode)
	}
	sel := regexp.MustCompile(`(?s)<select name="status"[^>]*>(.*?)</select>`).FindSubmatch(body)
	if sel == nil {
		t.Fatal("/findings has no status select")
	}
	var offered, selected []string
	for _, m := range regexp.MustCompile(`<option value="([^"]*)"( selected)?>`).FindAllSubmatch(sel[1], -1) {
		offered = append(offered, string(m[1]))
		if len(m[2]) > 0 {
			selected = append(selected, string(m[1]))
		}
	}
	if !slices.Equal(offered, finding.StatusFilters) {
		t.Errorf("the status select offers %v, want %v", offered, finding.StatusFilters)
	}
	if !slices.Equal(selected, []string{"ignored"}) {
		t.Errorf("status=ignored selects %v in the status select", selected)
	}
}

// A list of status filters is read as qvt export --status reads it, and
// named by the fewest filters that select the same states.
func TestStatusListParse(t *testing.T) {
	for in, want := range map[string]string{
		"New,Active,Re-Opened":        "",
		"fixed,GONE,ignored,disabled": "closed",
		"open,closed":                 "all",
		"New,all":                     "all",
		"gone, new":                   "New,gone",
		"closed,Active":               "Active,closed",
		"Fixed,fixed":                 "fixed",
		"reopened,":                   "Re-Opened",
	} {
		q, err := web.ParseQuery(url.Values{"status": {in}})
		if err != nil || q.Status != want {
			t.Errorf("status=%s: %q, %v; want %q", in, q.Status, err, want)
		}
	}
	if _, err := web.ParseQuery(url.Values{"status": {"New,bogus"}}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("status=New,bogus: %v, want an error naming bogus", err)
	}
}
