package doctor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"qvt/internal/publish/atlassian"
	"qvt/internal/publish/jira"
)

// atlassianClient is a client with a short budget: the doctor diagnoses,
// it does not wait out a 429 storm.
func atlassianClient(base, user, token, product string) *atlassian.Client {
	return &atlassian.Client{
		Base: base, User: user, Token: token, Product: product,
		HTTP:        &http.Client{Transport: transport(), Timeout: readTimeout, CheckRedirect: noRedirect},
		MaxAttempts: 2,
		MaxWait:     10 * time.Second,
	}
}

// Jira checks the Jira target: the site answers (serverInfo), the
// credentials work, the project exists, the issue type is one of its
// types, and that type's workflow has a status in the done category
// that closing transitions lead to. It only reads.
func Jira(ctx context.Context, c jira.Config) []Check {
	base, err := atlassian.CheckURL("JIRA_URL (jira.url)", c.URL)
	if err != nil {
		return []Check{fail("jira", "set JIRA_URL to the site, e.g. https://example.atlassian.net", "%v", err)}
	}
	if strings.TrimSpace(c.Token) == "" {
		return []Check{fail("jira", "set JIRA_TOKEN (and JIRA_USER on Cloud)", "JIRA_TOKEN (jira.token) is not set")}
	}
	issueType := c.IssueType
	if issueType == "" {
		issueType = "Bug"
	}
	doneCategory := c.DoneCategory
	if doneCategory == "" {
		doneCategory = "done"
	}
	cl := atlassianClient(base, c.User, c.Token, "jira")
	var si struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	if _, err := cl.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: "/rest/api/2/serverInfo", Idempotent: true}, &si); err != nil {
		return []Check{atlassianError("jira", base, "check JIRA_URL", err)}
	}
	checks := []Check{ok("jira", "%s: Jira %s %s", base, si.DeploymentType, si.Version)}
	if _, err := cl.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: "/rest/api/2/myself", Idempotent: true}, nil); err != nil {
		fix := "check JIRA_TOKEN: a Data Center personal access token with JIRA_USER empty"
		if c.User != "" {
			fix = "check JIRA_USER and JIRA_TOKEN: Cloud takes the account's e-mail and an API token"
		}
		return append(checks, atlassianError("jira", base, fix, err))
	}
	who := c.User
	if who == "" {
		who = "the token's user"
	}
	checks = append(checks, ok("jira", "credentials accepted (%s)", who))
	project := strings.TrimSpace(c.Project)
	path := "/rest/api/2/project/" + url.PathEscape(project)
	if _, err := cl.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: path, Idempotent: true}, nil); err != nil {
		if atlassian.StatusOf(err) == http.StatusNotFound {
			return append(checks, fail("jira", "check JIRA_PROJECT (the project key, e.g. SEC) and that the account can browse it",
				"no project %s visible to %s", project, who))
		}
		return append(checks, atlassianError("jira", base, "", err))
	}
	var types []issueTypeStatuses
	if _, err := cl.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: path + "/statuses", Idempotent: true}, &types); err != nil {
		return append(checks, ok("jira", "project %s exists", project), atlassianError("jira", base, "", err))
	}
	i := slices.IndexFunc(types, func(t issueTypeStatuses) bool {
		return strings.EqualFold(t.Name, issueType)
	})
	if i < 0 {
		var names []string
		for _, t := range types {
			names = append(names, t.Name)
		}
		return append(checks, fail("jira", "set jira.issue_type to one of "+strings.Join(names, ", ")+", or add "+issueType+" to the project's issue type scheme",
			"project %s has no issue type %s", project, issueType))
	}
	var done []string
	for _, s := range types[i].Statuses {
		if strings.EqualFold(s.Category.Key, doneCategory) {
			done = append(done, s.Name)
		}
	}
	if len(done) == 0 {
		return append(checks, fail("jira", "give the workflow a status in category "+doneCategory+", or set jira.done_category",
			"project %s, issue type %s: no status in category %s: qvt could not close fixed findings' issues", project, types[i].Name, doneCategory))
	}
	return append(checks, ok("jira", "project %s, issue type %s: fixed findings close to %s", project, types[i].Name, strings.Join(done, " or ")))
}

// atlassianError judges a failed Jira or Assets call.
func atlassianError(area, base, fix string, err error) Check {
	var dns *net.DNSError
	var ae *atlassian.Error
	status := atlassian.StatusOf(err)
	switch {
	case errors.As(err, &dns):
		return fail(area, "check the URL and this machine's DNS", "%s: the name %s does not resolve", base, dns.Name)
	case !errors.As(err, &ae):
		return fail(area, fix, "%v", err)
	case status == 0:
		return fail(area, "check the URL, the firewall and HTTPS_PROXY", "%s does not answer: %v", base, err)
	case status == http.StatusUnauthorized && fix == "":
		fix = "check JIRA_USER and JIRA_TOKEN"
	case status == http.StatusForbidden && fix == "":
		fix = "give the account permission, or use another account"
	}
	return fail(area, fix, "%v", err)
}

// issueTypeStatuses is an element of /project/{key}/statuses: an issue
// type and the statuses of its workflow.
type issueTypeStatuses struct {
	Name     string `json:"name"`
	Statuses []struct {
		Name     string `json:"name"`
		Category struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"statuses"`
}
