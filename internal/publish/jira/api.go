package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"qvt/internal/publish/atlassian"
)

// api is the Jira REST calls the target makes.
type api struct {
	c     *atlassian.Client
	cloud bool
	v     string // "3" on Cloud (ADF), "2" on Data Center (wiki markup)
	// jqlSearch: search with /search/jql (Cloud); else /search (DC).
	jqlSearch bool
}

func (a *api) path(p string) string { return "/rest/api/" + a.v + p }

// serverInfo returns the deployment type: "Cloud", "Server" or
// "DataCenter".
func (a *api) serverInfo(ctx context.Context) (string, error) {
	var si struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: "/rest/api/2/serverInfo", Idempotent: true}, &si)
	return si.DeploymentType, err
}

func (a *api) myself(ctx context.Context) error {
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: a.path("/myself"), Idempotent: true}, nil)
	return err
}

func (a *api) project(ctx context.Context, key string) error {
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: a.path("/project/" + url.PathEscape(key)), Idempotent: true}, nil)
	return err
}

// found is an issue a search returned.
type found struct {
	ID       int64
	Key      string
	Labels   []string
	Status   string
	Category string // status category key: new, indeterminate, done
}

type searchIssue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Labels []string `json:"labels"`
		Status struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
	} `json:"fields"`
}

func (s searchIssue) found() found {
	id, _ := strconv.ParseInt(s.ID, 10, 64)
	return found{ID: id, Key: s.Key, Labels: s.Fields.Labels, Status: s.Fields.Status.Name, Category: s.Fields.Status.StatusCategory.Key}
}

const searchPage = 100

// search calls fn for every issue jql matches, following the pages:
// nextPageToken/isLast on Cloud's search/jql, startAt/total on Data
// Center's search. A 410 from the old search (a Cloud site configured
// as Data Center) switches to search/jql.
func (a *api) search(ctx context.Context, jql string, fn func(found) error) error {
	fields := []string{"labels", "status"}
	if !a.jqlSearch {
		startAt := 0
		for {
			var res struct {
				StartAt int           `json:"startAt"`
				Total   int           `json:"total"`
				Issues  []searchIssue `json:"issues"`
			}
			_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: a.path("/search"), Idempotent: true,
				Body: map[string]any{"jql": jql, "startAt": startAt, "maxResults": searchPage, "fields": fields}}, &res)
			if atlassian.StatusOf(err) == http.StatusGone && startAt == 0 {
				a.jqlSearch = true
				return a.search(ctx, jql, fn)
			}
			if err != nil {
				return err
			}
			for _, is := range res.Issues {
				if err := fn(is.found()); err != nil {
					return err
				}
			}
			startAt += len(res.Issues)
			if len(res.Issues) == 0 || startAt >= res.Total {
				return nil
			}
		}
	}
	token := ""
	for page := 0; ; page++ {
		var res struct {
			Issues        []searchIssue `json:"issues"`
			NextPageToken string        `json:"nextPageToken"`
			IsLast        *bool         `json:"isLast"`
		}
		body := map[string]any{"jql": jql, "maxResults": searchPage, "fields": fields}
		if token != "" {
			body["nextPageToken"] = token
		}
		if _, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: a.path("/search/jql"), Idempotent: true, Body: body}, &res); err != nil {
			return err
		}
		for _, is := range res.Issues {
			if err := fn(is.found()); err != nil {
				return err
			}
		}
		last := res.NextPageToken == "" || (res.IsLast != nil && *res.IsLast)
		if last || res.NextPageToken == token || page > 100000 {
			return nil
		}
		token = res.NextPageToken
	}
}

// quoteJQL quotes a JQL string value.
func quoteJQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// bulkResult is the outcome of one element of a bulk create.
type bulkResult struct {
	Key, ID string
	Err     string // why it failed; "" when created
}

// bulkCreate creates up to 50 issues. Elements that failed are reported
// one by one; the error is for the call as a whole.
func (a *api) bulkCreate(ctx context.Context, updates []map[string]any) ([]bulkResult, error) {
	type created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	var res struct {
		Issues []created `json:"issues"`
		Errors []struct {
			Status        int `json:"status"`
			ElementErrors struct {
				ErrorMessages []string          `json:"errorMessages"`
				Errors        map[string]string `json:"errors"`
			} `json:"elementErrors"`
			FailedElementNumber int `json:"failedElementNumber"`
		} `json:"errors"`
	}
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: a.path("/issue/bulk"),
		Body: map[string]any{"issueUpdates": updates}}, &res)
	if err != nil {
		// A 400 with every element failed has the CreatedIssues shape.
		var e *atlassian.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || json.Unmarshal(e.Body, &res) != nil || len(res.Errors) == 0 {
			return nil, err
		}
	}
	out := make([]bulkResult, len(updates))
	failed := map[int]bool{}
	for _, f := range res.Errors {
		if f.FailedElementNumber < 0 || f.FailedElementNumber >= len(updates) {
			continue
		}
		failed[f.FailedElementNumber] = true
		e := &atlassian.Error{Messages: f.ElementErrors.ErrorMessages, Fields: f.ElementErrors.Errors}
		msg := e.Detail()
		if msg == "" {
			msg = fmt.Sprintf("status %d", f.Status)
		}
		out[f.FailedElementNumber].Err = msg
	}
	// Created issues come in the order of the elements that succeeded.
	j := 0
	for i := range updates {
		if failed[i] {
			continue
		}
		if j >= len(res.Issues) {
			out[i].Err = "not in the answer"
			continue
		}
		out[i].Key, out[i].ID = res.Issues[j].Key, res.Issues[j].ID
		j++
	}
	return out, nil
}

func (a *api) edit(ctx context.Context, key string, fields map[string]any, update map[string]any) error {
	body := map[string]any{}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	if len(update) > 0 {
		body["update"] = update
	}
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPut, Path: a.path("/issue/" + url.PathEscape(key)), Body: body, Idempotent: true}, nil)
	return err
}

type transition struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	To   struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"to"`
	Fields map[string]json.RawMessage `json:"fields"`
}

func (a *api) transitions(ctx context.Context, key string) ([]transition, error) {
	var res struct {
		Transitions []transition `json:"transitions"`
	}
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: a.path("/issue/" + url.PathEscape(key) + "/transitions"),
		Query: url.Values{"expand": {"transitions.fields"}}, Idempotent: true}, &res)
	return res.Transitions, err
}

func (a *api) transition(ctx context.Context, key, id string, fields map[string]any) error {
	body := map[string]any{"transition": map[string]any{"id": id}}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: a.path("/issue/" + url.PathEscape(key) + "/transitions"), Body: body}, nil)
	return err
}

func (a *api) comment(ctx context.Context, key string, body any) error {
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodPost, Path: a.path("/issue/" + url.PathEscape(key) + "/comment"),
		Body: map[string]any{"body": body}}, nil)
	return err
}

// status returns an issue's status and its category.
func (a *api) status(ctx context.Context, key string) (string, string, error) {
	var res searchIssue
	_, err := a.c.Do(ctx, atlassian.Request{Method: http.MethodGet, Path: a.path("/issue/" + url.PathEscape(key)),
		Query: url.Values{"fields": {"status"}}, Idempotent: true}, &res)
	return res.Fields.Status.Name, res.Fields.Status.StatusCategory.Key, err
}
