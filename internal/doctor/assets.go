package doctor

import (
	"context"
	"net/http"
	"strings"
	"time"

	"qvt/internal/publish/assets"
)

// Assets checks the Assets target through its own connection logic: the
// API base (the Cloud workspace found), the schema, and the object types
// and attributes qvt writes. Missing ones are a warning: publish --init
// creates them. It only reads.
func Assets(ctx context.Context, c assets.Config) []Check {
	t, err := assets.New(c,
		assets.WithHTTPClient(&http.Client{Transport: transport(), Timeout: readTimeout, CheckRedirect: noRedirect}),
		assets.WithBudget(2, 10*time.Second))
	if err != nil {
		return []Check{fail("assets", "complete the assets section (ASSETS_URL or ASSETS_WORKSPACE_ID, ASSETS_SCHEMA, JIRA_USER, JIRA_TOKEN)", "%v", err)}
	}
	f, err := t.Check(ctx)
	if err != nil {
		fix := ""
		if strings.Contains(err.Error(), "no object schema") {
			fix = "set ASSETS_SCHEMA to the key, id or name of one of those schemas"
		}
		where := c.URL
		if where == "" {
			where = "Assets (Cloud)"
		}
		return []Check{atlassianError("assets", where, fix, err)}
	}
	checks := []Check{ok("assets", "%s: schema %s found", f.Base, c.Schema)}
	if len(f.Missing) > 0 {
		return append(checks, warn("assets", "run qvt publish --to assets --init",
			"schema %s lacks %s", c.Schema, strings.Join(f.Missing, ", ")))
	}
	return append(checks, ok("assets", "schema %s has the object types and attributes qvt writes", c.Schema))
}
