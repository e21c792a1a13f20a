package assets

import (
	"errors"
	"fmt"
	"strings"

	"qvt/internal/finding"
	"qvt/internal/publish/atlassian"
)

// Config configures the Assets target. The YAML names are those of the
// configuration file's assets section; environment variables override
// the file (FromEnv). Assets uses Jira's credentials.
type Config struct {
	// URL is the API base (ASSETS_URL): on Data Center the base ending in
	// /rest/insight/1.0 or /rest/assets/1.0; on Cloud it may be left
	// empty (it is https://api.atlassian.com/jsm/assets/workspace/{id}/v1)
	// or set to that.
	URL string `yaml:"url"`
	// WorkspaceID is the Cloud workspace (ASSETS_WORKSPACE_ID); empty:
	// asked from JiraURL's /rest/servicedeskapi/assets/workspace.
	WorkspaceID string `yaml:"workspace_id"`
	// Schema is the object schema (ASSETS_SCHEMA): its key, id or name.
	Schema  string `yaml:"schema"`
	JiraURL string `yaml:"jira_url"` // JIRA_URL, the Jira site (Cloud workspace discovery)
	User    string `yaml:"user"`     // JIRA_USER; empty on Data Center: Token is a bearer PAT
	Token   string `yaml:"token"`    // JIRA_TOKEN (secret)
	// CloudAPI is where Cloud's Assets API lives, default
	// https://api.atlassian.com.
	CloudAPI string `yaml:"cloud_api"`
	// HostType and FindingType name the object types (default "Host" and
	// "Vulnerability Finding").
	HostType    string `yaml:"host_type"`
	FindingType string `yaml:"finding_type"`
	// Attributes renames attributes: logical name → attribute name. The
	// logical names and defaults: name Name; (host) ip IP, hostname
	// Hostname, os OS, host_id "Qualys Host ID", open_critical "Open
	// Critical", open_high "Open High", open_medium "Open Medium",
	// open_low "Open Low", overdue Overdue; (finding) qid QID, title
	// Title, status Status, rating Rating, cvss CVSS, breach_date
	// "Breach Date", host Host, priority Priority, priority_reason
	// "Priority Reason", due_date "Due Date", kev KEV, kev_cves "KEV
	// CVEs", kev_date_added "KEV Date Added", kev_due_date "KEV Due Date",
	// kev_ransomware "KEV Ransomware", epss EPSS, epss_percentile "EPSS
	// Percentile", epss_cve "EPSS CVE", qds QDS, threat_intel "Threat
	// Intel", owner Owner, excepted Excepted, exception Exception,
	// excepted_until "Excepted Until".
	Attributes map[string]string `yaml:"attributes"`
	// MinRating is the lowest rating a finding needs to get an object
	// ("" all). Host counts cover all open findings.
	MinRating string `yaml:"min_rating"`
}

// FromEnv fills the fields the environment sets: ASSETS_URL,
// ASSETS_WORKSPACE_ID, ASSETS_SCHEMA, and Jira's JIRA_URL, JIRA_USER,
// JIRA_TOKEN.
func (c *Config) FromEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.URL, "ASSETS_URL")
	set(&c.WorkspaceID, "ASSETS_WORKSPACE_ID")
	set(&c.Schema, "ASSETS_SCHEMA")
	set(&c.JiraURL, "JIRA_URL")
	set(&c.User, "JIRA_USER")
	set(&c.Token, "JIRA_TOKEN")
}

// Redacted is c with the token hidden.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = "[REDACTED]"
	}
	return c
}

// kinds of attribute values.
const (
	kText   = "text"
	kInt    = "integer"
	kDouble = "double"
	kBool   = "boolean"
	kDate   = "date"
	kRef    = "reference"
)

// attrSpec is an attribute qvt writes.
type attrSpec struct {
	key, name, kind string
}

var (
	hostAttrKeys = []attrSpec{
		{"name", "Name", kText}, {"ip", "IP", kText}, {"hostname", "Hostname", kText}, {"os", "OS", kText},
		{"host_id", "Qualys Host ID", kText}, {"open_critical", "Open Critical", kInt}, {"open_high", "Open High", kInt},
		{"open_medium", "Open Medium", kInt}, {"open_low", "Open Low", kInt}, {"overdue", "Overdue", kInt},
	}
	findingAttrKeys = []attrSpec{
		{"name", "Name", kText}, {"qid", "QID", kInt}, {"title", "Title", kText}, {"status", "Status", kText},
		{"rating", "Rating", kText}, {"cvss", "CVSS", kDouble}, {"breach_date", "Breach Date", kDate}, {"host", "Host", kRef},
		// The exploitation evidence and priority (docs/priority.md).
		{"priority", "Priority", kText}, {"priority_reason", "Priority Reason", kText}, {"due_date", "Due Date", kDate},
		{"kev", "KEV", kBool}, {"kev_cves", "KEV CVEs", kText}, {"kev_date_added", "KEV Date Added", kDate},
		{"kev_due_date", "KEV Due Date", kDate}, {"kev_ransomware", "KEV Ransomware", kBool},
		{"epss", "EPSS", kDouble}, {"epss_percentile", "EPSS Percentile", kDouble}, {"epss_cve", "EPSS CVE", kText},
		{"qds", "QDS", kInt}, {"threat_intel", "Threat Intel", kText},
		// Who fixes it, and the exception that covers it.
		{"owner", "Owner", kText}, {"excepted", "Excepted", kBool}, {"exception", "Exception", kText},
		{"excepted_until", "Excepted Until", kDate},
	}
)

// Flavors.
const (
	Cloud      = "cloud"
	DataCenter = "datacenter"
)

func (c *Config) normalize() error {
	var errs []error
	if strings.TrimSpace(c.Token) == "" {
		errs = append(errs, errors.New("JIRA_TOKEN (assets.token) is not set"))
	}
	if strings.TrimSpace(c.Schema) == "" {
		errs = append(errs, errors.New("ASSETS_SCHEMA (assets.schema) is not set: the object schema's key, id or name"))
	}
	if c.CloudAPI == "" {
		c.CloudAPI = "https://api.atlassian.com"
	}
	if u, err := atlassian.CheckURL("assets.cloud_api", c.CloudAPI); err != nil {
		errs = append(errs, err)
	} else {
		c.CloudAPI = u
	}
	if c.URL != "" {
		u, err := atlassian.CheckURL("ASSETS_URL (assets.url)", c.URL)
		if err != nil {
			errs = append(errs, err)
		} else if c.flavor(u) == "" {
			errs = append(errs, fmt.Errorf("ASSETS_URL %q: want a Data Center base ending in /rest/insight/1.0 or /rest/assets/1.0, or Cloud's .../jsm/assets/workspace/{id}/v1", u))
		}
		c.URL = u
	} else {
		if c.WorkspaceID == "" && c.JiraURL == "" {
			errs = append(errs, errors.New("set ASSETS_URL (Data Center), or ASSETS_WORKSPACE_ID or JIRA_URL (Cloud: the workspace is looked up there)"))
		}
		if c.JiraURL != "" {
			u, err := atlassian.CheckURL("JIRA_URL", c.JiraURL)
			if err != nil {
				errs = append(errs, err)
			}
			c.JiraURL = u
		}
	}
	if c.flavor(c.URL) == Cloud && c.User == "" {
		errs = append(errs, errors.New("JIRA_USER (assets.user) is not set: Cloud needs the account's e-mail with its API token"))
	}
	if c.HostType == "" {
		c.HostType = "Host"
	}
	if c.FindingType == "" {
		c.FindingType = "Vulnerability Finding"
	}
	known := map[string]bool{}
	for _, a := range append(append([]attrSpec{}, hostAttrKeys...), findingAttrKeys...) {
		known[a.key] = true
	}
	for k, v := range c.Attributes {
		if !known[k] {
			errs = append(errs, fmt.Errorf("assets.attributes: unknown attribute %q", k))
		} else if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("assets.attributes.%s: empty name", k))
		}
	}
	if c.MinRating != "" {
		r := finding.RatingRank(c.MinRating)
		if r < 0 {
			errs = append(errs, fmt.Errorf("assets.min_rating %q: want None, Low, Medium, High or Critical", c.MinRating))
		} else {
			c.MinRating = finding.Ratings[r]
		}
	}
	return errors.Join(errs...)
}

// flavor tells the flavor of a base URL; "" for one that is neither
// (an empty URL is Cloud, whose base is built from the workspace).
func (c *Config) flavor(u string) string {
	switch {
	case u == "" || strings.Contains(u, "/jsm/assets/workspace/") || strings.Contains(u, "/jsm/insight/workspace/"):
		return Cloud
	case strings.HasSuffix(u, "/rest/insight/1.0") || strings.HasSuffix(u, "/rest/assets/1.0"):
		return DataCenter
	}
	return ""
}

// specs are the attributes of the host and finding types, named.
func (c *Config) specs() (host, fnd []attrSpec) {
	name := func(a attrSpec) attrSpec {
		if n, ok := c.Attributes[a.key]; ok {
			a.name = n
		}
		return a
	}
	for _, a := range hostAttrKeys {
		host = append(host, name(a))
	}
	for _, a := range findingAttrKeys {
		fnd = append(fnd, name(a))
	}
	return host, fnd
}
