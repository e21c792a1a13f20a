package jira

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"

	"qvt/internal/finding"
	"qvt/internal/owners"
	"qvt/internal/publish/atlassian"
)

// Config configures the Jira target. The YAML names are those of the
// configuration file's jira section; the environment variables override
// the file (FromEnv).
type Config struct {
	URL     string `yaml:"url"`     // JIRA_URL, the site, e.g. https://example.atlassian.net
	User    string `yaml:"user"`    // JIRA_USER: Cloud: the account's e-mail; empty on Data Center: Token is a PAT sent as a bearer token
	Token   string `yaml:"token"`   // JIRA_TOKEN (secret): Cloud API token or Data Center personal access token
	Project string `yaml:"project"` // JIRA_PROJECT, the project key
	// Flavor is "cloud" (REST v3, ADF, search/jql), "datacenter" (REST
	// v2, wiki markup, search with startAt), or "" to ask serverInfo.
	Flavor    string `yaml:"flavor"`
	IssueType string `yaml:"issue_type"` // default Bug
	// Grouping: "finding" (one issue per finding, the default), "qid"
	// (one per QID listing its hosts) or "host" (one per host).
	Grouping string `yaml:"grouping"`
	// MinRating is the lowest rating (None, Low, Medium, High, Critical)
	// published; "" publishes all. Issues whose findings all drop below
	// it close like fixed ones.
	MinRating string `yaml:"min_rating"`
	// Closing: the first transition whose name is in DoneTransitions
	// (case-insensitive, in order), else the first whose target status is
	// in category DoneCategory (default "done"). Resolution (default
	// "Done") is set when the transition's screen has the field.
	DoneTransitions []string `yaml:"done_transitions"`
	DoneCategory    string   `yaml:"done_category"`
	Resolution      string   `yaml:"resolution"`
	// Reopening: by name from ReopenTransitions, else by target category
	// ReopenCategory (default "new", then "indeterminate"). With
	// ReopenAsNewIssue a reopened finding gets a new issue linked to the
	// closed one (LinkType, default "Relates") instead.
	ReopenTransitions []string `yaml:"reopen_transitions"`
	ReopenCategory    string   `yaml:"reopen_category"`
	ReopenAsNewIssue  bool     `yaml:"reopen_as_new_issue"`
	LinkType          string   `yaml:"link_type"`
	// PriorityMap maps a rating to a priority name. Nil takes the
	// default (Critical Highest, High High, Medium Medium, Low Low, None
	// Lowest); an empty map sets no priority.
	PriorityMap map[string]string `yaml:"priority_map"`
	// Priorities maps a finding's priority (P1 … P4, docs/priority.md)
	// to a Jira priority name, e.g. {P1: Highest, P2: High}. When set it
	// replaces PriorityMap: an issue's priority follows the finding's,
	// and a priority the map leaves out sends no priority field (Jira
	// keeps what the issue has). Unset, issues take PriorityMap's.
	Priorities map[string]string `yaml:"priorities"`
	// DueDateField is the field the finding's due date (docs/priority.md:
	// the earlier of its breach date and its priority's deadline) goes
	// to: "duedate" (the default), a custom date field id, or "none". An
	// issue whose finding has no due date has the field cleared.
	DueDateField string `yaml:"due_date_field"`
	// Labels are added to every issue (spaces become "_"), besides "qvt",
	// the issue's dedupe label, and "kev" while a finding of the issue is
	// in CISA's KEV catalog. TagLabels adds the host's Qualys tags.
	Labels    []string `yaml:"labels"`
	TagLabels bool     `yaml:"tag_labels"`
	// CustomFields maps a field id (customfield_10050) to a text/template
	// over FieldData. The result is sent as a string, or, when the
	// template starts with "json:", as the JSON it renders to (select
	// lists: json:{"value":"{{.Rating}}"}; numbers: json:{{.CVSS}}).
	CustomFields map[string]string `yaml:"custom_fields"`
	// MaxCreates is the flood guard: the most issues one run creates
	// (default 500; -1: no limit). Over it the run creates that many, the
	// most urgent first (priority, then rating), and stops with an error saying so.
	MaxCreates int `yaml:"max_creates"`
	// MaxTextLength is the longest description or comment, counted as
	// Jira does (UTF-16 units; for ADF, of the JSON). Default 32767.
	MaxTextLength int `yaml:"max_text_length"`
	// MoveBetweenProjects: when a finding's new owner has another Jira
	// project, its issue is moved there (a new issue in that project,
	// linked to the old one, which is closed with a comment naming the
	// new). Off, the issue stays and gets a comment and the label
	// qvt-owner-changed, for a person to move.
	MoveBetweenProjects bool `yaml:"move_between_projects"`

	// Owners are the ownership rules (the configuration's owners:
	// section, not the jira: one): a finding's issue goes to its owner's
	// project, assignee, component and labels.
	Owners owners.Set `yaml:"-"`
	// ExceptionResolution is the resolution of the issue of an excepted
	// finding (exceptions.resolution, e.g. "Won't Do"); "" resolves with
	// the done transition alone.
	ExceptionResolution string `yaml:"-"`
}

// FromEnv fills the fields the environment sets (JIRA_URL, JIRA_USER,
// JIRA_TOKEN, JIRA_PROJECT); unset variables leave fields as they are.
func (c *Config) FromEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.URL, "JIRA_URL")
	set(&c.User, "JIRA_USER")
	set(&c.Token, "JIRA_TOKEN")
	set(&c.Project, "JIRA_PROJECT")
}

// Redacted is c with the token hidden, for printing.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = "[REDACTED]"
	}
	return c
}

// route is where an owner's issues go.
type route struct {
	Owner     string
	Project   string // the owner's project, else jira.project
	Assignee  string // "" leaves the issue as Jira makes it
	Component string
	Labels    []string
}

// routeOf is the route of an owner's findings; an owner the rules do not
// name (or none) goes to jira.project as it is.
func (c *Config) routeOf(owner string) route {
	r := route{Owner: owner, Project: c.Project}
	if owner == "" {
		return r
	}
	rule, ok := c.Owners.Get(owner)
	if !ok {
		return r
	}
	if p := strings.TrimSpace(rule.Jira.Project); p != "" {
		r.Project = p
	}
	r.Assignee = strings.TrimSpace(rule.Jira.Assignee)
	r.Component = strings.TrimSpace(rule.Jira.Component)
	for _, l := range rule.Jira.Labels {
		if l = cleanLabel(l); l != "" {
			r.Labels = append(r.Labels, l)
		}
	}
	return r
}

// projects are the projects qvt's issues may be in: jira.project and
// the owners', sorted, jira.project first.
func (c *Config) projects() []string {
	out := []string{c.Project}
	var more []string
	for _, o := range c.Owners {
		if p := strings.TrimSpace(o.Jira.Project); p != "" && p != c.Project && !slices.Contains(more, p) {
			more = append(more, p)
		}
	}
	slices.Sort(more)
	return append(out, more...)
}

// Flavors.
const (
	Cloud      = "cloud"
	DataCenter = "datacenter"
)

// Groupings.
const (
	ByFinding = "finding"
	ByQID     = "qid"
	ByHost    = "host"
)

// DefaultPriorities is the default PriorityMap.
var DefaultPriorities = map[string]string{"Critical": "Highest", "High": "High", "Medium": "Medium", "Low": "Low", "None": "Lowest"}

// normalize fills defaults and checks c.
func (c *Config) normalize() error {
	var errs []error
	base, err := atlassian.CheckURL("JIRA_URL (jira.url)", c.URL)
	if err != nil {
		errs = append(errs, err)
	}
	c.URL = base
	if strings.TrimSpace(c.Token) == "" {
		errs = append(errs, errors.New("JIRA_TOKEN (jira.token) is not set"))
	}
	c.Project = strings.TrimSpace(c.Project)
	if c.Project == "" {
		errs = append(errs, errors.New("JIRA_PROJECT (jira.project) is not set"))
	} else if strings.ContainsAny(c.Project, "\"\\ ") {
		errs = append(errs, fmt.Errorf("jira.project %q: want a project key", c.Project))
	}
	c.Flavor = strings.ToLower(strings.TrimSpace(c.Flavor))
	switch c.Flavor {
	case "", Cloud, DataCenter:
	case "server", "dc", "data center", "data-center":
		c.Flavor = DataCenter
	default:
		errs = append(errs, fmt.Errorf("jira.flavor %q: want cloud, datacenter or empty (detect)", c.Flavor))
	}
	if c.Flavor == Cloud && c.User == "" {
		errs = append(errs, errors.New("JIRA_USER (jira.user) is not set: Jira Cloud needs the account's e-mail with its API token"))
	}
	if c.IssueType == "" {
		c.IssueType = "Bug"
	}
	c.Grouping = strings.ToLower(strings.TrimSpace(c.Grouping))
	switch c.Grouping {
	case "":
		c.Grouping = ByFinding
	case ByFinding, ByQID, ByHost:
	default:
		errs = append(errs, fmt.Errorf("jira.grouping %q: want finding, qid or host", c.Grouping))
	}
	if c.MinRating != "" {
		r := finding.RatingRank(c.MinRating)
		if r < 0 {
			errs = append(errs, fmt.Errorf("jira.min_rating %q: want None, Low, Medium, High or Critical", c.MinRating))
		} else {
			c.MinRating = finding.Ratings[r]
		}
	}
	if c.DoneCategory == "" {
		c.DoneCategory = "done"
	}
	if c.Resolution == "" {
		c.Resolution = "Done"
	}
	if c.LinkType == "" {
		c.LinkType = "Relates"
	}
	if c.PriorityMap == nil {
		c.PriorityMap = maps.Clone(DefaultPriorities)
	} else {
		pm := map[string]string{}
		for r, p := range c.PriorityMap {
			k := finding.RatingRank(r)
			if k < 0 {
				errs = append(errs, fmt.Errorf("jira.priority_map: %q is not a rating", r))
				continue
			}
			pm[finding.Ratings[k]] = p
		}
		c.PriorityMap = pm
	}
	if c.Priorities != nil {
		pm := map[string]string{}
		for k, v := range c.Priorities {
			p := strings.ToUpper(strings.TrimSpace(k))
			switch {
			case !slices.Contains(finding.Priorities, p):
				errs = append(errs, fmt.Errorf("jira.priorities: %q is not a priority (P1, P2, P3, P4)", k))
			case strings.TrimSpace(v) == "":
				errs = append(errs, fmt.Errorf("jira.priorities.%s: no Jira priority name", p))
			default:
				pm[p] = strings.TrimSpace(v)
			}
		}
		c.Priorities = pm
	}
	if c.DueDateField == "" {
		c.DueDateField = "duedate"
	}
	for i, l := range c.Labels {
		c.Labels[i] = cleanLabel(l)
	}
	for f, tpl := range c.CustomFields {
		if _, err := template.New(f).Option("missingkey=error").Parse(strings.TrimPrefix(tpl, "json:")); err != nil {
			errs = append(errs, fmt.Errorf("jira.custom_fields.%s: %w", f, err))
		}
	}
	for _, o := range c.Owners {
		if p := o.Jira.Project; p != "" && strings.ContainsAny(p, "\"\\ ") {
			errs = append(errs, fmt.Errorf("owner %q: jira.project %q: want a project key", o.Name, p))
		}
	}
	c.ExceptionResolution = strings.TrimSpace(c.ExceptionResolution)
	if c.MaxCreates == 0 {
		c.MaxCreates = 500
	}
	if c.MaxTextLength <= 0 {
		c.MaxTextLength = 32767
	}
	if c.MaxTextLength < 2000 {
		errs = append(errs, fmt.Errorf("jira.max_text_length %d: too small to hold a description", c.MaxTextLength))
	}
	return errors.Join(errs...)
}

// cleanLabel makes s a valid label: no whitespace, at most 255 characters.
func cleanLabel(s string) string {
	s = strings.Join(strings.Fields(s), "_")
	if r := []rune(s); len(r) > 255 {
		s = string(r[:255])
	}
	return s
}
