// Package jiratest is an httptest double of the Jira REST API, Cloud (v3
// with ADF, and v2) and Data Center (v2 with wiki markup), keeping state
// so tests can assert what a publisher did: issues with their labels,
// fields, status, comments and links.
//
// Served, with the documented request and response shapes:
//
//	GET  /rest/api/2/serverInfo                 (no credentials needed)
//	GET  /rest/api/{2|3}/myself
//	GET  /rest/api/{2|3}/project/{key}         404 when unknown
//	POST /rest/api/{2|3}/issue                  201 {id,key,self}
//	POST /rest/api/{2|3}/issue/bulk             ≤ 50; 201/400 {issues,errors[{status,elementErrors,failedElementNumber}]}
//	GET  /rest/api/{2|3}/issue/{key}            404 when unknown
//	PUT  /rest/api/{2|3}/issue/{key}            204; fields and update (labels, components add/remove)
//	GET  /rest/api/{2|3}/issue/{key}/transitions[?expand=transitions.fields]
//	POST /rest/api/{2|3}/issue/{key}/transitions 204; 400 when not valid from the status
//	POST /rest/api/{2|3}/issue/{key}/comment    201
//	GET|POST /rest/api/{2|3}/search/jql         Cloud: nextPageToken/isLast, no total; 400 on unbounded JQL
//	GET|POST /rest/api/{2|3}/search             Cloud: 410 (removed, CHANGE-2046); DC: startAt/maxResults/total
//
// Data Center serves only /rest/api/2 (v3 is 404) and has no search/jql.
// Cloud's v3 takes ADF documents, v2 and Data Center take strings; the
// wrong kind is a 400. A priority is set by name and must be one of
// Options.Priorities (else a 400, as Jira answers); duedate takes
// YYYY-MM-DD or null (cleared); labels are replaced by fields.labels and
// changed one by one by update.labels add/remove verbs. The assignee is
// {"accountId": …} on Cloud and {"name": …} on Data Center (the other
// form is a 400), or null (unassigned); components are [{"name": …}]
// in fields (replaced) or add/remove verbs {"add": {"name": …}} in
// update, and must be of the issue's project when Options.Components
// lists the project's. Errors are
// ErrorCollections; a missing or wrong
// credential is a 401 on every route but serverInfo. Faults (429 storms,
// 5xx, answers lost after the server acted) are injected through Base.
package jiratest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"qvt/internal/publish/atlassian/atlassiantest"
)

// Options configure a double. Zero fields take the defaults given.
type Options struct {
	Flavor         string // "cloud" (default) or "datacenter"
	DeploymentType string // serverInfo's; default "Cloud" or "DataCenter"
	User, Token    string // the credential accepted; default cloud "bot@example.com"/"tok", DC ""/"pat"
	Projects       []string
	IssueTypes     []string // default Bug, Task
	Priorities     []string // default Highest, High, Medium, Low, Lowest
	CustomFields   []string // custom field ids that may be set
	MaxText        int      // description and comment limit, default 32767
	PageSize       int      // most issues a search page holds, default 50
	ShortPages     bool     // pages that are not last hold one issue fewer than asked
	Workflow       *Workflow
	// Components are each project's components; a project it leaves out
	// takes any.
	Components map[string][]string
}

// Workflow is the statuses and transitions of every issue.
type Workflow struct {
	Initial     string
	Categories  map[string]string // status → category key: new, indeterminate, done
	Transitions []Transition
}

// Transition is one workflow transition.
type Transition struct {
	From   []string // statuses it is available from; empty: all
	ID     string
	Name   string
	To     string
	Screen bool // it has a screen with the resolution field
	// ClearsResolution is a post function clearing the resolution; without
	// it (and without the request clearing it) the resolution stays.
	ClearsResolution bool
}

// DefaultWorkflow is Jira's simplified workflow, with ids a client cannot
// guess.
func DefaultWorkflow() *Workflow {
	return &Workflow{
		Initial:    "To Do",
		Categories: map[string]string{"To Do": "new", "In Progress": "indeterminate", "Done": "done"},
		Transitions: []Transition{
			{From: []string{"To Do"}, ID: "711", Name: "Start Progress", To: "In Progress"},
			{From: []string{"In Progress"}, ID: "721", Name: "Stop Progress", To: "To Do"},
			{From: []string{"To Do", "In Progress"}, ID: "731", Name: "Done", To: "Done", Screen: true},
			{From: []string{"Done"}, ID: "741", Name: "Reopen", To: "To Do", Screen: true},
		},
	}
}

// Comment is a comment on an issue.
type Comment struct {
	ID   string
	Body any // ADF document or string
	Text string
}

// Link is an issue link made at create time.
type Link struct {
	Type, Inward, Outward string
}

// Issue is an issue the double holds.
type Issue struct {
	ID, Key, Project string
	IssueType        string
	Summary          string
	Description      any // ADF document (map) or string
	Priority         string
	DueDate          string
	Labels           []string
	Assignee         string // account id (Cloud) or user name (Data Center)
	Components       []string
	Custom           map[string]any
	Status           string
	Resolution       string
	Comments         []Comment
	Links            []Link
	Transitions      []string // names of the transitions done
	Edits            int
}

// DescriptionText is the description as text: a wiki string as it is,
// an ADF document's text nodes.
func (i *Issue) DescriptionText() string { return docText(i.Description) }

// Server is the double.
type Server struct {
	*httptest.Server
	atlassiantest.Base
	opt Options

	mu     sync.Mutex
	issues []*Issue
	byKey  map[string]*Issue
	seq    int
}

// New starts a double; Close it when done.
func New(opt Options) *Server {
	if opt.Flavor == "" {
		opt.Flavor = "cloud"
	}
	if opt.DeploymentType == "" {
		opt.DeploymentType = "Cloud"
		if opt.Flavor != "cloud" {
			opt.DeploymentType = "DataCenter"
		}
	}
	if opt.Token == "" {
		if opt.Flavor == "cloud" {
			opt.User, opt.Token = "bot@example.com", "tok"
		} else {
			opt.Token = "pat"
		}
	}
	if len(opt.Projects) == 0 {
		opt.Projects = []string{"SEC"}
	}
	if len(opt.IssueTypes) == 0 {
		opt.IssueTypes = []string{"Bug", "Task"}
	}
	if len(opt.Priorities) == 0 {
		opt.Priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}
	}
	if opt.MaxText == 0 {
		opt.MaxText = 32767
	}
	if opt.PageSize == 0 {
		opt.PageSize = 50
	}
	if opt.Workflow == nil {
		opt.Workflow = DefaultWorkflow()
	}
	s := &Server{opt: opt, byKey: map[string]*Issue{}}
	s.Auth = atlassiantest.Auth{User: opt.User, Token: opt.Token}
	s.Public = []string{"/rest/api/2/serverInfo"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, s.route)
	}))
	return s
}

// Options are the double's options, defaults filled in (the credential
// it accepts among them).
func (s *Server) Options() Options { return s.opt }

// Issues returns copies of the issues, in creation order.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.issues))
	for _, i := range s.issues {
		out = append(out, copyIssue(i))
	}
	return out
}

// Issue returns a copy of the issue with key.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byKey[key]
	if !ok {
		return Issue{}, false
	}
	return copyIssue(i), true
}

// WithLabel returns the issues carrying label.
func (s *Server) WithLabel(label string) []Issue {
	var out []Issue
	for _, i := range s.Issues() {
		if slices.Contains(i.Labels, label) {
			out = append(out, i)
		}
	}
	return out
}

// SetStatus moves an issue to a status directly, as a person might.
func (s *Server) SetStatus(key, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byKey[key]; ok {
		i.Status = status
	}
}

// SetAssignee assigns an issue, as a person might.
func (s *Server) SetAssignee(key, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byKey[key]; ok {
		i.Assignee = user
	}
}

// AddLabel adds a label to an issue, as a person might.
func (s *Server) AddLabel(key, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byKey[key]; ok && !slices.Contains(i.Labels, label) {
		i.Labels = append(i.Labels, label)
	}
}

// Delete removes an issue, as a person might.
func (s *Server) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byKey, key)
	s.issues = slices.DeleteFunc(s.issues, func(i *Issue) bool { return i.Key == key })
}

// Snapshot is the whole state as JSON, to compare before and after.
func (s *Server) Snapshot() string {
	b, _ := json.Marshal(s.Issues())
	return string(b)
}

func copyIssue(i *Issue) Issue {
	c := *i
	c.Labels = slices.Clone(i.Labels)
	c.Components = slices.Clone(i.Components)
	c.Comments = slices.Clone(i.Comments)
	c.Links = slices.Clone(i.Links)
	c.Transitions = slices.Clone(i.Transitions)
	return c
}

var (
	reAPI   = regexp.MustCompile(`^/rest/api/(2|3|latest)(/.*)$`)
	reIssue = regexp.MustCompile(`^/issue/([A-Za-z0-9_-]+)(/transitions|/comment)?$`)
)

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	m := reAPI.FindStringSubmatch(r.URL.Path)
	if m == nil {
		atlassiantest.WriteError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
		return
	}
	v, rest := m[1], m[2]
	if v == "latest" {
		v = "2"
	}
	cloud := s.opt.Flavor == "cloud"
	if !cloud && v == "3" {
		// Data Center has no v3.
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body>Not Found</body></html>"))
		return
	}
	switch {
	case rest == "/serverInfo" && r.Method == http.MethodGet:
		ver := "9.12.2"
		if cloud {
			ver = "1001.0.0-SNAPSHOT"
		}
		atlassiantest.WriteJSON(w, 200, map[string]any{"baseUrl": s.URL, "version": ver, "deploymentType": s.opt.DeploymentType, "serverTitle": "Jira"})
	case rest == "/myself" && r.Method == http.MethodGet:
		if cloud {
			atlassiantest.WriteJSON(w, 200, map[string]any{"accountId": "5b10a2844c20165700ede21g", "emailAddress": s.opt.User, "active": true})
		} else {
			atlassiantest.WriteJSON(w, 200, map[string]any{"name": "qvt-bot", "key": "JIRAUSER10100", "active": true})
		}
	case strings.HasPrefix(rest, "/project/") && r.Method == http.MethodGet:
		key := strings.TrimPrefix(rest, "/project/")
		if !slices.Contains(s.opt.Projects, key) {
			atlassiantest.WriteError(w, http.StatusNotFound, []string{fmt.Sprintf("No project could be found with key '%s'.", key)}, nil)
			return
		}
		atlassiantest.WriteJSON(w, 200, map[string]any{"id": "10000", "key": key, "name": key + " project"})
	case rest == "/issue" && r.Method == http.MethodPost:
		s.create(w, r, v)
	case rest == "/issue/bulk" && r.Method == http.MethodPost:
		s.bulk(w, r, v)
	case rest == "/search/jql" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		if !cloud {
			atlassiantest.WriteError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
			return
		}
		s.search(w, r, true)
	case rest == "/search" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		if cloud {
			atlassiantest.WriteError(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
			return
		}
		s.search(w, r, false)
	default:
		im := reIssue.FindStringSubmatch(rest)
		if im == nil {
			atlassiantest.WriteError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
			return
		}
		s.mu.Lock()
		is, ok := s.byKey[im[1]]
		s.mu.Unlock()
		if !ok {
			atlassiantest.WriteError(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
			return
		}
		switch {
		case im[2] == "" && r.Method == http.MethodGet:
			s.get(w, is)
		case im[2] == "" && r.Method == http.MethodPut:
			s.edit(w, r, v, is)
		case im[2] == "/transitions" && r.Method == http.MethodGet:
			s.listTransitions(w, r, is)
		case im[2] == "/transitions" && r.Method == http.MethodPost:
			s.doTransition(w, r, is)
		case im[2] == "/comment" && r.Method == http.MethodPost:
			s.comment(w, r, v, is)
		default:
			atlassiantest.WriteError(w, http.StatusMethodNotAllowed, []string{"method not allowed"}, nil)
		}
	}
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	return dec.Decode(v)
}

type issueUpdate struct {
	Fields     map[string]any   `json:"fields"`
	Update     map[string][]any `json:"update"`
	Properties []any            `json:"properties"`
}

// textLen is the length Jira measures: UTF-16 units of a string, of the
// serialized JSON of an ADF document.
func textLen(v any) int {
	if s, ok := v.(string); ok {
		return len(utf16.Encode([]rune(s)))
	}
	b, _ := json.Marshal(v)
	return len(utf16.Encode([]rune(string(b))))
}

// checkDoc checks a rich-text value for the API version: an ADF document
// on v3, a string on v2.
func checkDoc(v string, val any) string {
	if v == "3" {
		m, ok := val.(map[string]any)
		if !ok {
			return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		if m["type"] != "doc" || fmt.Sprint(m["version"]) != "1" {
			return "Invalid ADF: the root must be {\"type\":\"doc\",\"version\":1}"
		}
		if msg := checkADF(m); msg != "" {
			return msg
		}
		return ""
	}
	if _, ok := val.(string); !ok {
		return "Operation value must be a string"
	}
	return ""
}

// checkADF checks the nodes it knows: text nodes must have text, content
// must be arrays of nodes.
func checkADF(n map[string]any) string {
	t, _ := n["type"].(string)
	if t == "" {
		return "Invalid ADF: a node without a type"
	}
	if t == "text" {
		if s, _ := n["text"].(string); s == "" {
			return "Invalid ADF: empty text node"
		}
	}
	if c, ok := n["content"]; ok {
		arr, ok := c.([]any)
		if !ok {
			return "Invalid ADF: content must be an array"
		}
		for _, x := range arr {
			xm, ok := x.(map[string]any)
			if !ok {
				return "Invalid ADF: content must hold nodes"
			}
			if msg := checkADF(xm); msg != "" {
				return msg
			}
		}
	}
	return ""
}

const tooLong = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."

var reDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkFields validates the fields of a create (create true) or an edit
// and returns the field errors.
func (s *Server) checkFields(v string, f map[string]any, create bool, project string) map[string]string {
	errs := map[string]string{}
	if create {
		p, _ := f["project"].(map[string]any)
		project, _ = p["key"].(string)
	}
	if create {
		p, _ := f["project"].(map[string]any)
		key, _ := p["key"].(string)
		if p == nil || !slices.Contains(s.opt.Projects, key) {
			errs["project"] = "valid project is required"
		}
		it, _ := f["issuetype"].(map[string]any)
		name, _ := it["name"].(string)
		if it == nil || !slices.Contains(s.opt.IssueTypes, name) {
			errs["issuetype"] = "The issue type selected is invalid."
		}
		if _, ok := f["summary"]; !ok {
			errs["summary"] = "You must specify a summary of the issue."
		}
	}
	for k, val := range f {
		switch k {
		case "project", "issuetype":
			if !create {
				errs[k] = "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."
			}
		case "summary":
			sum, _ := val.(string)
			switch {
			case strings.TrimSpace(sum) == "":
				errs[k] = "You must specify a summary of the issue."
			case len(utf16.Encode([]rune(sum))) > 255:
				errs[k] = "Summary must be less than 255 characters."
			case strings.ContainsAny(sum, "\n\r"):
				errs[k] = "The summary is invalid because it contains newline characters."
			}
		case "description":
			if val == nil {
				continue
			}
			if msg := checkDoc(v, val); msg != "" {
				errs[k] = msg
			} else if textLen(val) > s.opt.MaxText {
				errs[k] = tooLong
			}
		case "priority":
			// As Jira: the priority must be one of the site's, by name.
			p, _ := val.(map[string]any)
			name, ok := p["name"].(string)
			switch {
			case !ok:
				errs[k] = "Specify the Priority (name) in the string format"
			case !slices.Contains(s.opt.Priorities, name):
				errs[k] = "Priority name '" + name + "' is not valid"
			}
		case "duedate":
			d, _ := val.(string)
			if val != nil && !reDate.MatchString(d) {
				errs[k] = "Error parsing date string: " + d
			}
		case "assignee":
			if val == nil {
				continue
			}
			m, _ := val.(map[string]any)
			id, byID := m["accountId"].(string)
			name, byName := m["name"].(string)
			switch {
			case s.opt.Flavor == "cloud" && (!byID || id == ""):
				errs[k] = "Specify the user by accountId"
			case s.opt.Flavor != "cloud" && (!byName || name == ""):
				errs[k] = "Specify the user by name"
			}
		case "components":
			arr, ok := val.([]any)
			if !ok {
				errs[k] = "data was not an array"
				continue
			}
			for _, c := range arr {
				if msg := s.checkComponent(project, c); msg != "" {
					errs[k] = msg
				}
			}
		case "labels":
			arr, ok := val.([]any)
			if !ok {
				errs[k] = "data was not an array"
				continue
			}
			for _, l := range arr {
				ls, _ := l.(string)
				if ls == "" || strings.ContainsAny(ls, " \t\n") {
					errs[k] = fmt.Sprintf("The label '%s' contains spaces which is invalid.", ls)
				} else if len(ls) > 255 {
					errs[k] = "The label must not exceed 255 characters."
				}
			}
		default:
			if !slices.Contains(s.opt.CustomFields, k) {
				errs[k] = "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."
			}
		}
	}
	return errs
}

// checkComponent checks a component value {"name": …} of project.
func (s *Server) checkComponent(project string, c any) string {
	m, _ := c.(map[string]any)
	name, _ := m["name"].(string)
	if name == "" {
		return "Please provide Component"
	}
	if cs, ok := s.opt.Components[project]; ok && !slices.Contains(cs, name) {
		return "Component name '" + name + "' is not valid"
	}
	return ""
}

// newIssue creates the issue described by u; the caller has checked it.
func (s *Server) newIssue(u issueUpdate) *Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	f := u.Fields
	p := f["project"].(map[string]any)["key"].(string)
	is := &Issue{
		ID:      strconv.Itoa(10000 + s.seq),
		Key:     fmt.Sprintf("%s-%d", p, s.seq),
		Project: p,
		Status:  s.opt.Workflow.Initial,
		Custom:  map[string]any{},
	}
	is.IssueType = f["issuetype"].(map[string]any)["name"].(string)
	s.apply(is, f)
	for _, op := range u.Update["issuelinks"] {
		m, _ := op.(map[string]any)
		add, _ := m["add"].(map[string]any)
		if add == nil {
			continue
		}
		t, _ := add["type"].(map[string]any)
		l := Link{}
		l.Type, _ = t["name"].(string)
		if o, ok := add["outwardIssue"].(map[string]any); ok {
			l.Outward, _ = o["key"].(string)
		}
		if i, ok := add["inwardIssue"].(map[string]any); ok {
			l.Inward, _ = i["key"].(string)
		}
		is.Links = append(is.Links, l)
	}
	s.issues = append(s.issues, is)
	s.byKey[is.Key] = is
	return is
}

func (s *Server) apply(is *Issue, f map[string]any) {
	for k, val := range f {
		switch k {
		case "project", "issuetype":
		case "summary":
			is.Summary, _ = val.(string)
		case "description":
			is.Description = val
		case "priority":
			is.Priority, _ = val.(map[string]any)["name"].(string)
		case "duedate":
			is.DueDate, _ = val.(string)
		case "labels":
			is.Labels = nil
			for _, l := range val.([]any) {
				is.Labels = append(is.Labels, l.(string))
			}
		case "assignee":
			is.Assignee = ""
			if m, ok := val.(map[string]any); ok {
				is.Assignee, _ = m["accountId"].(string)
				if is.Assignee == "" {
					is.Assignee, _ = m["name"].(string)
				}
			}
		case "components":
			is.Components = nil
			for _, c := range val.([]any) {
				name, _ := c.(map[string]any)["name"].(string)
				is.Components = append(is.Components, name)
			}
		default:
			is.Custom[k] = val
		}
	}
}

func (s *Server) created(is *Issue, v string) map[string]any {
	return map[string]any{"id": is.ID, "key": is.Key, "self": s.URL + "/rest/api/" + v + "/issue/" + is.ID}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, v string) {
	var u issueUpdate
	if err := decode(r, &u); err != nil || u.Fields == nil {
		atlassiantest.WriteError(w, 400, []string{"Can not deserialize instance of IssueUpdate"}, nil)
		return
	}
	if errs := s.checkFields(v, u.Fields, true, ""); len(errs) > 0 {
		atlassiantest.WriteError(w, 400, nil, errs)
		return
	}
	atlassiantest.WriteJSON(w, 201, s.created(s.newIssue(u), v))
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, v string) {
	var body struct {
		IssueUpdates []issueUpdate `json:"issueUpdates"`
	}
	if err := decode(r, &body); err != nil {
		atlassiantest.WriteError(w, 400, []string{"Can not deserialize instance of IssuesUpdate"}, nil)
		return
	}
	if len(body.IssueUpdates) > 50 {
		atlassiantest.WriteError(w, 400, []string{"Bulk create is limited to 50 issues per request."}, nil)
		return
	}
	issues := []any{}
	errs := []any{}
	for i, u := range body.IssueUpdates {
		if u.Fields == nil {
			u.Fields = map[string]any{}
		}
		if fe := s.checkFields(v, u.Fields, true, ""); len(fe) > 0 {
			errs = append(errs, map[string]any{"status": 400, "failedElementNumber": i,
				"elementErrors": map[string]any{"errorMessages": []string{}, "errors": fe}})
			continue
		}
		issues = append(issues, s.created(s.newIssue(u), v))
	}
	status := 201
	if len(issues) == 0 && len(errs) > 0 {
		status = 400
	}
	atlassiantest.WriteJSON(w, status, map[string]any{"issues": issues, "errors": errs})
}

func (s *Server) fieldsOf(is *Issue, want func(string) bool) map[string]any {
	f := map[string]any{}
	put := func(k string, v any) {
		if want(k) {
			f[k] = v
		}
	}
	put("summary", is.Summary)
	put("labels", slices.Clone(is.Labels))
	if is.Assignee != "" {
		key := "accountId"
		if s.opt.Flavor != "cloud" {
			key = "name"
		}
		put("assignee", map[string]any{key: is.Assignee})
	} else {
		put("assignee", nil)
	}
	comps := []any{}
	for _, c := range is.Components {
		comps = append(comps, map[string]any{"name": c})
	}
	put("components", comps)
	put("status", map[string]any{"name": is.Status, "statusCategory": map[string]any{"key": s.opt.Workflow.Categories[is.Status]}})
	if is.Resolution != "" {
		put("resolution", map[string]any{"name": is.Resolution})
	} else {
		put("resolution", nil)
	}
	if is.Priority != "" {
		put("priority", map[string]any{"name": is.Priority})
	}
	if is.DueDate != "" {
		put("duedate", is.DueDate)
	} else {
		put("duedate", nil)
	}
	put("issuetype", map[string]any{"name": is.IssueType})
	put("description", is.Description)
	for k, v := range is.Custom {
		put(k, v)
	}
	return f
}

func (s *Server) get(w http.ResponseWriter, is *Issue) {
	s.mu.Lock()
	f := s.fieldsOf(is, func(string) bool { return true })
	s.mu.Unlock()
	atlassiantest.WriteJSON(w, 200, map[string]any{"id": is.ID, "key": is.Key, "fields": f})
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request, v string, is *Issue) {
	var u issueUpdate
	if err := decode(r, &u); err != nil {
		atlassiantest.WriteError(w, 400, []string{"Can not deserialize instance of IssueUpdate"}, nil)
		return
	}
	for k := range u.Update {
		if _, ok := u.Fields[k]; ok {
			atlassiantest.WriteError(w, 400, nil, map[string]string{k: "Field '" + k + "' cannot be set in both fields and update."})
			return
		}
		if k != "labels" && k != "components" {
			atlassiantest.WriteError(w, 400, nil, map[string]string{k: "Field '" + k + "' does not support update operations here."})
			return
		}
	}
	for _, op := range u.Update["components"] {
		m, _ := op.(map[string]any)
		for verb, c := range m {
			if verb != "add" && verb != "remove" {
				atlassiantest.WriteError(w, 400, nil, map[string]string{"components": "Unsupported operation '" + verb + "'"})
				return
			}
			if verb == "add" {
				if msg := s.checkComponent(is.Project, c); msg != "" {
					atlassiantest.WriteError(w, 400, nil, map[string]string{"components": msg})
					return
				}
			}
		}
	}
	if errs := s.checkFields(v, u.Fields, false, is.Project); len(errs) > 0 {
		atlassiantest.WriteError(w, 400, nil, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apply(is, u.Fields)
	for _, op := range u.Update["labels"] {
		m, _ := op.(map[string]any)
		if a, ok := m["add"].(string); ok && !slices.Contains(is.Labels, a) {
			is.Labels = append(is.Labels, a)
		}
		if d, ok := m["remove"].(string); ok {
			is.Labels = slices.DeleteFunc(is.Labels, func(l string) bool { return l == d })
		}
	}
	for _, op := range u.Update["components"] {
		m, _ := op.(map[string]any)
		if a, ok := m["add"].(map[string]any); ok {
			if name, _ := a["name"].(string); !slices.Contains(is.Components, name) {
				is.Components = append(is.Components, name)
			}
		}
		if d, ok := m["remove"].(map[string]any); ok {
			name, _ := d["name"].(string)
			is.Components = slices.DeleteFunc(is.Components, func(c string) bool { return c == name })
		}
	}
	is.Edits++
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) available(is *Issue) []Transition {
	var out []Transition
	for _, t := range s.opt.Workflow.Transitions {
		if len(t.From) == 0 || slices.Contains(t.From, is.Status) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) listTransitions(w http.ResponseWriter, r *http.Request, is *Issue) {
	s.mu.Lock()
	ts := s.available(is)
	s.mu.Unlock()
	expand := strings.Contains(r.URL.Query().Get("expand"), "transitions.fields")
	out := []any{}
	for _, t := range ts {
		m := map[string]any{"id": t.ID, "name": t.Name, "hasScreen": t.Screen, "isGlobal": len(t.From) == 0,
			"isInitial": false, "isAvailable": true, "isConditional": false,
			"to": map[string]any{"id": strconv.Itoa(len(t.To)), "name": t.To,
				"statusCategory": map[string]any{"key": s.opt.Workflow.Categories[t.To]}}}
		if expand {
			f := map[string]any{}
			if t.Screen {
				f["resolution"] = map[string]any{"required": false, "name": "Resolution", "operations": []string{"set"},
					"allowedValues": []any{map[string]any{"name": "Done"}, map[string]any{"name": "Won't Do"}}}
			}
			m["fields"] = f
		}
		out = append(out, m)
	}
	atlassiantest.WriteJSON(w, 200, map[string]any{"transitions": out})
}

func (s *Server) doTransition(w http.ResponseWriter, r *http.Request, is *Issue) {
	var body struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
		Fields map[string]any `json:"fields"`
	}
	if err := decode(r, &body); err != nil {
		atlassiantest.WriteError(w, 400, []string{"Can not deserialize instance of IssueUpdate"}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *Transition
	for _, x := range s.available(is) {
		if x.ID == body.Transition.ID {
			t = &x
			break
		}
	}
	if t == nil {
		atlassiantest.WriteError(w, 400, []string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", body.Transition.ID)}, nil)
		return
	}
	for k, v := range body.Fields {
		if k != "resolution" || !t.Screen {
			atlassiantest.WriteError(w, 400, nil, map[string]string{k: "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."})
			return
		}
		if v != nil {
			name, _ := v.(map[string]any)["name"].(string)
			if name != "Done" && name != "Won't Do" {
				atlassiantest.WriteError(w, 400, nil, map[string]string{k: "Resolution '" + name + "' does not exist."})
				return
			}
		}
	}
	is.Status = t.To
	// As in Jira, the resolution is what the request sets; without it, a
	// transition to done sets one (the usual post function) and any other
	// keeps it (an issue reopened without clearing it still counts as
	// resolved in every filter and report).
	res, set := body.Fields["resolution"]
	switch {
	case set && res == nil:
		is.Resolution = ""
	case set:
		is.Resolution, _ = res.(map[string]any)["name"].(string)
	case s.opt.Workflow.Categories[t.To] == "done":
		is.Resolution = "Done"
	case t.ClearsResolution:
		is.Resolution = ""
	}
	is.Transitions = append(is.Transitions, t.Name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request, v string, is *Issue) {
	var body struct {
		Body any `json:"body"`
	}
	if err := decode(r, &body); err != nil || body.Body == nil {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	}
	if msg := checkDoc(v, body.Body); msg != "" {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"comment": msg})
		return
	}
	if textLen(body.Body) > s.opt.MaxText {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"comment": tooLong})
		return
	}
	s.mu.Lock()
	s.seq++
	c := Comment{ID: strconv.Itoa(20000 + s.seq), Body: body.Body, Text: docText(body.Body)}
	is.Comments = append(is.Comments, c)
	s.mu.Unlock()
	atlassiantest.WriteJSON(w, 201, map[string]any{"id": c.ID, "body": c.Body, "created": "2026-01-08T00:00:00.000+0000"})
}

// search serves both search styles: Cloud's search/jql (token paging, no
// total) and Data Center's search (startAt, total).
func (s *Server) search(w http.ResponseWriter, r *http.Request, jqlStyle bool) {
	var p struct {
		JQL           string   `json:"jql"`
		MaxResults    *int     `json:"maxResults"`
		StartAt       int      `json:"startAt"`
		NextPageToken string   `json:"nextPageToken"`
		Fields        []string `json:"fields"`
	}
	if r.Method == http.MethodPost {
		if err := decode(r, &p); err != nil {
			atlassiantest.WriteError(w, 400, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
			return
		}
	} else {
		q := r.URL.Query()
		p.JQL = q.Get("jql")
		if v := q.Get("maxResults"); v != "" {
			n, _ := strconv.Atoi(v)
			p.MaxResults = &n
		}
		p.StartAt, _ = strconv.Atoi(q.Get("startAt"))
		p.NextPageToken = q.Get("nextPageToken")
		if f := q.Get("fields"); f != "" {
			p.Fields = strings.Split(f, ",")
		}
	}
	q, err := parseJQL(p.JQL)
	if err != nil {
		atlassiantest.WriteError(w, 400, []string{err.Error()}, nil)
		return
	}
	if jqlStyle && !q.bounded() {
		atlassiantest.WriteError(w, 400, []string{"Unbounded JQL queries are not allowed here. Please add a search restriction to your query."}, nil)
		return
	}
	size := 50
	if p.MaxResults != nil {
		size = *p.MaxResults
	}
	size = max(1, min(size, s.opt.PageSize))
	start := p.StartAt
	if jqlStyle {
		start = 0
		if p.NextPageToken != "" {
			b, err := base64.RawURLEncoding.DecodeString(p.NextPageToken)
			n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "at:"))
			if err != nil || err2 != nil || !strings.HasPrefix(string(b), "at:") {
				atlassiantest.WriteError(w, 400, []string{"The provided next page token is invalid or expired."}, nil)
				return
			}
			start = n
		}
	}
	fields := func(string) bool { return false }
	if len(p.Fields) > 0 {
		fields = func(k string) bool {
			return slices.Contains(p.Fields, k) || slices.Contains(p.Fields, "*all") || slices.Contains(p.Fields, "*navigable")
		}
	} else if !jqlStyle {
		fields = func(string) bool { return true } // DC's default: navigable fields
	}
	s.mu.Lock()
	var match []*Issue
	for _, is := range s.issues {
		if q.match(is) {
			match = append(match, is)
		}
	}
	if q.desc {
		slices.Reverse(match)
	}
	end := min(start+size, len(match))
	if start > len(match) {
		start = len(match)
	}
	last := end >= len(match)
	if s.opt.ShortPages && !last && end-start > 1 {
		end--
	}
	out := []any{}
	for _, is := range match[start:end] {
		m := map[string]any{"id": is.ID, "key": is.Key, "self": s.URL + "/rest/api/2/issue/" + is.ID}
		if f := s.fieldsOf(is, fields); len(f) > 0 || !jqlStyle {
			m["fields"] = f
		}
		out = append(out, m)
	}
	total := len(match)
	s.mu.Unlock()
	if jqlStyle {
		res := map[string]any{"issues": out, "isLast": last}
		if !last {
			res["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte("at:" + strconv.Itoa(end)))
		}
		atlassiantest.WriteJSON(w, 200, res)
		return
	}
	atlassiantest.WriteJSON(w, 200, map[string]any{"startAt": start, "maxResults": size, "total": total, "issues": out})
}

// docText is the text of an ADF document (its text nodes, blocks on
// their own lines), or a string as it is.
func docText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var sb strings.Builder
	var walk func(n any)
	walk = func(n any) {
		m, ok := n.(map[string]any)
		if !ok {
			return
		}
		if t, _ := m["text"].(string); t != "" {
			sb.WriteString(t)
		}
		if m["type"] == "hardBreak" {
			sb.WriteString("\n")
		}
		if c, ok := m["content"].([]any); ok {
			for _, x := range c {
				walk(x)
			}
		}
		switch m["type"] {
		case "paragraph", "heading", "codeBlock", "tableRow", "listItem":
			sb.WriteString("\n")
		case "tableCell", "tableHeader":
			sb.WriteString(" | ")
		}
	}
	walk(v)
	return sb.String()
}
