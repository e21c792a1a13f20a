package jiratest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"qvt/internal/publish/atlassian/atlassiantest"
)

func call(t *testing.T, s *Server, method, path, body string, auth bool) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth {
		o := s.Options()
		if o.User != "" {
			req.SetBasicAuth(o.User, o.Token)
		} else {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return res.StatusCode, res.Header, m
}

func issueBody(desc string) string {
	return `{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Bug"},"summary":"s","labels":["qvt","qvt-1"],"description":` + desc + `}}`
}

const adf = `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}`

// The double answers with the documented shapes and error bodies.
func TestShapes(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	errs := func(m map[string]any) string { return fmt.Sprint(m["errorMessages"], m["errors"]) }
	for _, tc := range []struct {
		name, method, path, body string
		auth                     bool
		status                   int
		has                      string // in the error body
	}{
		{"401 without credentials", "GET", "/rest/api/3/myself", "", false, 401, "Client must be authenticated"},
		{"serverInfo is public", "GET", "/rest/api/2/serverInfo", "", false, 200, ""},
		{"create", "POST", "/rest/api/3/issue", issueBody(adf), true, 201, ""},
		{"v3 takes no string description", "POST", "/rest/api/3/issue", issueBody(`"wiki"`), true, 400, "Atlassian Document"},
		{"v2 takes a string", "POST", "/rest/api/2/issue", issueBody(`"wiki"`), true, 201, ""},
		{"summary too long", "POST", "/rest/api/3/issue", strings.Replace(issueBody(adf), `"s"`, `"`+strings.Repeat("x", 300)+`"`, 1), true, 400, "Summary must be less than 255"},
		{"description too long", "POST", "/rest/api/2/issue", issueBody(`"` + strings.Repeat("x", 40000) + `"`), true, 400, "32,767"},
		{"label with a space", "POST", "/rest/api/2/issue", strings.Replace(issueBody(`"d"`), `"qvt-1"`, `"a b"`, 1), true, 400, "contains spaces"},
		{"unknown issue", "GET", "/rest/api/3/issue/SEC-999", "", true, 404, "Issue does not exist"},
		{"removed search", "POST", "/rest/api/3/search", `{"jql":"project = SEC"}`, true, 410, "CHANGE-2046"},
		{"unbounded jql", "POST", "/rest/api/3/search/jql", `{"jql":"order by key desc"}`, true, 400, "Unbounded"},
		{"bad jql", "POST", "/rest/api/3/search/jql", `{"jql":"project = SEC AND nope = 1"}`, true, 400, "does not exist"},
		{"bulk over 50", "POST", "/rest/api/3/issue/bulk", `{"issueUpdates":[` + strings.Repeat(`{"fields":{}},`, 50) + `{"fields":{}}]}`, true, 400, "50"},
		{"bad transition", "POST", "/rest/api/3/issue/SEC-1/transitions", `{"transition":{"id":"99"}}`, true, 400, "not valid"},
		{"resolution off the screen", "POST", "/rest/api/3/issue/SEC-1/transitions", `{"transition":{"id":"711"},"fields":{"resolution":{"name":"Done"}}}`, true, 400, "appropriate screen"},
		{"field in fields and update", "PUT", "/rest/api/3/issue/SEC-1", `{"fields":{"labels":["a"]},"update":{"labels":[{"add":"b"}]}}`, true, 400, "both"},
		{"edit", "PUT", "/rest/api/3/issue/SEC-1", `{"update":{"labels":[{"add":"b"}]}}`, true, 204, ""},
		{"comment", "POST", "/rest/api/3/issue/SEC-1/comment", `{"body":` + adf + `}`, true, 201, ""},
		{"string comment on v3", "POST", "/rest/api/3/issue/SEC-1/comment", `{"body":"x"}`, true, 400, "Atlassian Document"},
	} {
		status, _, m := call(t, s, tc.method, tc.path, tc.body, tc.auth)
		if status != tc.status || !strings.Contains(errs(m), tc.has) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, errs(m), tc.status, tc.has)
		}
	}
	// Bulk: one bad element, the others created; all bad: 400, same shape.
	_, _, m := call(t, s, "POST", "/rest/api/3/issue/bulk", `{"issueUpdates":[`+issueBody(adf)+`,{"fields":{"summary":"x"}},`+issueBody(adf)+`]}`, true)
	if is, es := m["issues"].([]any), m["errors"].([]any); len(is) != 2 || len(es) != 1 || es[0].(map[string]any)["failedElementNumber"] != 1.0 {
		t.Errorf("partial bulk: %v", m)
	}
	status, _, m := call(t, s, "POST", "/rest/api/3/issue/bulk", `{"issueUpdates":[{"fields":{"summary":"x"}}]}`, true)
	if status != 400 || len(m["errors"].([]any)) != 1 || len(m["issues"].([]any)) != 0 {
		t.Errorf("failed bulk: %d %v", status, m)
	}
	// Cloud search: a token, isLast, no total.
	_, _, m = call(t, s, "POST", "/rest/api/3/search/jql", `{"jql":"labels = qvt","maxResults":2,"fields":["labels"]}`, true)
	if m["nextPageToken"] == nil || m["isLast"] != false || m["total"] != nil || len(m["issues"].([]any)) != 2 {
		t.Errorf("search/jql page: %v", m)
	}
	_, _, m = call(t, s, "POST", "/rest/api/3/search/jql", `{"jql":"labels = qvt","maxResults":2,"nextPageToken":"`+m["nextPageToken"].(string)+`"}`, true)
	if m["isLast"] != true || len(m["issues"].([]any)) != 2 {
		t.Errorf("search/jql last page: %v", m)
	}
	// 429 injected, with its headers.
	s.Inject(atlassiantest.Throttle429(1, "3"))
	status, h, _ := call(t, s, "GET", "/rest/api/3/myself", "", true)
	if status != 429 || h.Get("Retry-After") != "3" || h.Get("RateLimit-Reason") == "" {
		t.Errorf("429: %d %v", status, h)
	}

	dc := New(Options{Flavor: "datacenter", PageSize: 2})
	defer dc.Close()
	for range 3 {
		call(t, dc, "POST", "/rest/api/2/issue", issueBody(`"d"`), true)
	}
	if status, _, _ := call(t, dc, "POST", "/rest/api/3/issue", issueBody(adf), true); status != 404 {
		t.Errorf("DC v3: %d", status)
	}
	_, _, m = call(t, dc, "GET", "/rest/api/2/search?jql=project%3DSEC&startAt=2&maxResults=10", "", true)
	if m["total"] != 3.0 || m["startAt"] != 2.0 || len(m["issues"].([]any)) != 1 {
		t.Errorf("DC search: %v", m)
	}
}

// The resolution is what a transition's request sets; a transition to
// done without one sets "Done", and any other keeps it unless the
// request or the transition's post function clears it, as in Jira.
func TestResolution(t *testing.T) {
	wf := DefaultWorkflow()
	wf.Transitions = append(wf.Transitions, Transition{From: []string{"Done"}, ID: "751", Name: "Reopen and clear", To: "To Do", ClearsResolution: true})
	s := New(Options{Workflow: wf})
	defer s.Close()
	move := func(id, fields string) (string, string) {
		t.Helper()
		body := `{"transition":{"id":"` + id + `"}` + fields + `}`
		if status, _, m := call(t, s, "POST", "/rest/api/3/issue/SEC-1/transitions", body, true); status != 204 {
			t.Fatalf("transition %s: %d %v", id, status, m)
		}
		is, _ := s.Issue("SEC-1")
		return is.Status, is.Resolution
	}
	call(t, s, "POST", "/rest/api/3/issue", issueBody(adf), true)
	for _, step := range []struct{ id, fields, status, resolution string }{
		{"731", `,"fields":{"resolution":{"name":"Won't Do"}}`, "Done", "Won't Do"},
		{"741", "", "To Do", "Won't Do"}, // reopened, still resolved
		{"731", "", "Done", "Done"},
		{"741", `,"fields":{"resolution":null}`, "To Do", ""},
		{"731", "", "Done", "Done"},
		{"751", "", "To Do", ""},
	} {
		if st, res := move(step.id, step.fields); st != step.status || res != step.resolution {
			t.Errorf("transition %s%s: %s, %q; want %s, %q", step.id, step.fields, st, res, step.status, step.resolution)
		}
	}
}

// Priority, due date and labels: an unknown priority is a 400 as on
// Jira, and the double keeps what an edit sets, clears and removes.
func TestPriorityDueLabels(t *testing.T) {
	s := New(Options{Priorities: []string{"Blocker", "Major", "Minor"}})
	defer s.Close()
	body := strings.Replace(issueBody(adf), `"summary":"s"`, `"summary":"s","priority":{"name":"Blocker"},"duedate":"2025-03-15"`, 1)
	if status, _, m := call(t, s, "POST", "/rest/api/3/issue", body, true); status != 201 {
		t.Fatalf("create: %d %v", status, m)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		has        string
	}{
		{"unknown priority", `{"fields":{"priority":{"name":"Highest"}}}`, 400, "Priority name 'Highest' is not valid"},
		{"priority by a bare string", `{"fields":{"priority":"Major"}}`, 400, "string format"},
		{"bad due date", `{"fields":{"duedate":"15/03/2025"}}`, 400, "Error parsing date"},
		{"priority and due date", `{"fields":{"priority":{"name":"Minor"},"duedate":"2025-04-01"},"update":{"labels":[{"add":"kev"}]}}`, 204, ""},
	} {
		status, _, m := call(t, s, "PUT", "/rest/api/3/issue/SEC-1", tc.body, true)
		if got := fmt.Sprint(m["errors"]); status != tc.status || !strings.Contains(got, tc.has) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, got, tc.status, tc.has)
		}
	}
	is, _ := s.Issue("SEC-1")
	if is.Priority != "Minor" || is.DueDate != "2025-04-01" || strings.Join(is.Labels, ",") != "qvt,qvt-1,kev" {
		t.Errorf("after the edit: priority %q, due %q, labels %v", is.Priority, is.DueDate, is.Labels)
	}
	call(t, s, "PUT", "/rest/api/3/issue/SEC-1", `{"fields":{"duedate":null},"update":{"labels":[{"remove":"kev"}]}}`, true)
	_, _, m := call(t, s, "GET", "/rest/api/3/issue/SEC-1", "", true)
	f := m["fields"].(map[string]any)
	if f["duedate"] != nil || fmt.Sprint(f["labels"]) != "[qvt qvt-1]" || fmt.Sprint(f["priority"]) != "map[name:Minor]" {
		t.Errorf("after clearing: duedate %v, labels %v, priority %v", f["duedate"], f["labels"], f["priority"])
	}
}

// Assignees are by accountId on Cloud and by name on Data Center;
// components are objects of the issue's project's, set in fields or
// added and removed with update verbs.
func TestAssigneeAndComponents(t *testing.T) {
	for _, flavor := range []string{"cloud", "datacenter"} {
		t.Run(flavor, func(t *testing.T) {
			s := New(Options{Flavor: flavor, Components: map[string][]string{"SEC": {"Web", "Databases"}}})
			defer s.Close()
			user, other := `{"accountId":"acc-1"}`, `{"name":"jdoe"}`
			if flavor != "cloud" {
				user, other = other, user
			}
			create := func(fields string) (int, map[string]any) {
				body := `{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Bug"},"summary":"s","description":"d"` + fields + `}}`
				st, _, m := call(t, s, "POST", "/rest/api/2/issue", body, true)
				return st, m
			}
			if st, m := create(`,"assignee":` + other); st != 400 {
				t.Errorf("assignee in the other flavor's form: %d %v", st, m)
			}
			if st, m := create(`,"components":["Web"]`); st != 400 {
				t.Errorf("a component as a string: %d %v", st, m)
			}
			if st, m := create(`,"components":[{"name":"Payments"}]`); st != 400 {
				t.Errorf("a component of no project: %d %v", st, m)
			}
			st, m := create(`,"assignee":` + user + `,"components":[{"name":"Web"}]`)
			if st != 201 {
				t.Fatalf("create: %d %v", st, m)
			}
			key := m["key"].(string)
			if st, _, m := call(t, s, "PUT", "/rest/api/2/issue/"+key,
				`{"fields":{"assignee":null},"update":{"components":[{"remove":{"name":"Web"}},{"add":{"name":"Databases"}}]}}`, true); st != 204 {
				t.Fatalf("edit: %d %v", st, m)
			}
			is, _ := s.Issue(key)
			if is.Assignee != "" || len(is.Components) != 1 || is.Components[0] != "Databases" {
				t.Errorf("after the edit: assignee %q, components %v", is.Assignee, is.Components)
			}
			if st, _, _ := call(t, s, "PUT", "/rest/api/2/issue/"+key, `{"update":{"components":[{"add":{"name":"Payments"}}]}}`, true); st != 400 {
				t.Errorf("adding another project's component: %d", st)
			}
		})
	}
}
