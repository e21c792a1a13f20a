package assets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"qvt/internal/publish/atlassian"
)

// id is an Assets id: a string on Cloud, a number on Data Center.
type id string

func (i *id) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*i = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*i = id(s)
		return nil
	}
	*i = id(b)
	return nil
}

// api is the Assets REST calls the target makes.
type api struct {
	c       *atlassian.Client
	cloud   bool
	insight bool // DC base /rest/insight/1.0: IQL search
}

func (a *api) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: path, Query: q, Idempotent: true}, out)
	return err
}

type schemaJSON struct {
	ID   id     `json:"id"`
	Name string `json:"name"`
	Key  string `json:"objectSchemaKey"`
}

func (a *api) schemas(ctx context.Context) ([]schemaJSON, error) {
	var out []schemaJSON
	for start := 0; ; {
		var res struct {
			Values  []schemaJSON `json:"values"`        // Cloud
			Schemas []schemaJSON `json:"objectschemas"` // DC
			IsLast  *bool        `json:"isLast"`
			Total   int          `json:"total"`
		}
		q := url.Values{}
		if a.cloud {
			q.Set("startAt", strconv.Itoa(start))
			q.Set("maxResults", "50")
		}
		if err := a.get(ctx, "/objectschema/list", q, &res); err != nil {
			return nil, err
		}
		out = append(out, res.Schemas...)
		out = append(out, res.Values...)
		start += len(res.Values)
		if !a.cloud || len(res.Values) == 0 || res.IsLast == nil || *res.IsLast || start >= res.Total {
			return out, nil
		}
	}
}

type typeJSON struct {
	ID   id     `json:"id"`
	Name string `json:"name"`
}

func (a *api) types(ctx context.Context, schema id) ([]typeJSON, error) {
	var out []typeJSON
	err := a.get(ctx, "/objectschema/"+url.PathEscape(string(schema))+"/objecttypes/flat", nil, &out)
	return out, err
}

type attrJSON struct {
	ID          id     `json:"id"`
	Name        string `json:"name"`
	Label       bool   `json:"label"`
	Type        int    `json:"type"`
	DefaultType *struct {
		ID int `json:"id"`
	} `json:"defaultType"`
	RefType id `json:"referenceObjectTypeId"`
}

func (a *api) attributes(ctx context.Context, typ id) ([]attrJSON, error) {
	var out []attrJSON
	err := a.get(ctx, "/objecttype/"+url.PathEscape(string(typ))+"/attributes", nil, &out)
	return out, err
}

type named struct {
	ID   id     `json:"id"`
	Name string `json:"name"`
}

func (a *api) icons(ctx context.Context) ([]named, error) {
	var out []named
	err := a.get(ctx, "/icon/global", nil, &out)
	return out, err
}

func (a *api) referenceTypes(ctx context.Context, schema id) ([]named, error) {
	var out []named
	err := a.get(ctx, "/config/referencetype", url.Values{"objectSchemaId": {string(schema)}}, &out)
	return out, err
}

func (a *api) createType(ctx context.Context, schema id, name, desc string, icon id) (typeJSON, error) {
	var out typeJSON
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: "/objecttype/create",
		Body: map[string]any{"name": name, "description": desc, "iconId": string(icon), "objectSchemaId": string(schema)}}, &out)
	return out, err
}

func (a *api) createAttribute(ctx context.Context, typ id, body map[string]any) (attrJSON, error) {
	var out attrJSON
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: "/objecttypeattribute/" + url.PathEscape(string(typ)), Body: body}, &out)
	return out, err
}

// object is an object as the API returns it.
type object struct {
	ID    id     `json:"id"`
	Key   string `json:"objectKey"`
	Label string `json:"label"`
	Type  struct {
		ID id `json:"id"`
	} `json:"objectType"`
}

// attrValue is one attribute of an object payload.
type attrValue struct {
	ID     id
	Values []string
}

func payload(typ id, attrs []attrValue) map[string]any {
	var as []any
	for _, a := range attrs {
		vs := []any{}
		for _, v := range a.Values {
			vs = append(vs, map[string]any{"value": v})
		}
		as = append(as, map[string]any{"objectTypeAttributeId": string(a.ID), "objectAttributeValues": vs})
	}
	return map[string]any{"objectTypeId": string(typ), "attributes": as}
}

func (a *api) create(ctx context.Context, typ id, attrs []attrValue) (object, error) {
	var out object
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: "/object/create", Body: payload(typ, attrs)}, &out)
	return out, err
}

func (a *api) update(ctx context.Context, obj string, typ id, attrs []attrValue) (object, error) {
	var out object
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPut, Path: "/object/" + url.PathEscape(obj), Body: payload(typ, attrs), Idempotent: true}, &out)
	return out, err
}

// search calls fn for every object an AQL query finds: Cloud's POST
// /object/aql (startAt, isLast), Data Center's GET /aql/objects (or
// /iql/objects on an Insight base; 1-based pages, totalFilterCount).
func (a *api) search(ctx context.Context, schema id, ql string, fn func(object) error) error {
	const size = 100
	if a.cloud {
		for start := 0; ; {
			var res struct {
				Values []object `json:"values"`
				Total  int      `json:"total"`
				IsLast *bool    `json:"isLast"`
			}
			q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {strconv.Itoa(size)}, "includeAttributes": {"false"}}
			if _, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: "/object/aql", Query: q, Idempotent: true,
				Body: map[string]any{"qlQuery": ql}}, &res); err != nil {
				return err
			}
			for _, o := range res.Values {
				if err := fn(o); err != nil {
					return err
				}
			}
			start += len(res.Values)
			// The page may be shorter than asked: follow total and isLast.
			if len(res.Values) == 0 || (res.IsLast != nil && *res.IsLast) || (res.IsLast == nil && start >= res.Total) {
				return nil
			}
		}
	}
	path, param := "/aql/objects", "qlQuery"
	if a.insight {
		path, param = "/iql/objects", "iql"
	}
	seen := 0
	for page := 1; ; page++ {
		var res struct {
			Entries []object `json:"objectEntries"`
			Total   int      `json:"totalFilterCount"`
		}
		q := url.Values{"objectSchemaId": {string(schema)}, param: {ql}, "page": {strconv.Itoa(page)},
			"resultPerPage": {strconv.Itoa(size)}, "includeAttributes": {"false"}}
		if err := a.get(ctx, path, q, &res); err != nil {
			return err
		}
		for _, o := range res.Entries {
			if err := fn(o); err != nil {
				return err
			}
		}
		seen += len(res.Entries)
		if len(res.Entries) == 0 || seen >= res.Total {
			return nil
		}
	}
}

// quoteAQL quotes an AQL string value.
func quoteAQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// workspace asks the Jira site for the Assets workspace id.
func workspace(ctx context.Context, c *atlassian.Client) (string, error) {
	var res struct {
		Values []struct {
			WorkspaceID string `json:"workspaceId"`
		} `json:"values"`
	}
	if _, err := c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: "/rest/servicedeskapi/assets/workspace", Idempotent: true}, &res); err != nil {
		return "", err
	}
	if len(res.Values) == 0 || res.Values[0].WorkspaceID == "" {
		return "", fmt.Errorf("assets: %s has no Assets workspace (Assets needs Jira Service Management Premium or Enterprise)", c.Base)
	}
	return res.Values[0].WorkspaceID, nil
}
