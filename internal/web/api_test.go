package web

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// nilLists names the list fields of v that are nil: decoded from JSON, a
// list that was null. Fields left out when empty (omitempty) are fine.
func nilLists(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = append(out, nilLists(v.Elem(), path)...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, nilLists(v.Index(i), path+"["+strconv.Itoa(i)+"]")...)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if f.Anonymous {
				out = append(out, nilLists(fv, path)...)
				continue
			}
			if fv.Kind() == reflect.Slice && fv.IsNil() && !strings.Contains(opts, "omitempty") {
				out = append(out, path+"."+name)
			}
			out = append(out, nilLists(fv, path+"."+name)...)
		}
	}
	return out
}

var pascalKey = regexp.MustCompile(`"[A-Z][A-Za-z]*":`)

// The API's names are snake_case, and its lists are [] when empty, never
// null, on a full store and an empty one.
func TestAPIShape(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		paths := routePaths(t, s)
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		empty, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer empty.Close()
		ehs := httptest.NewServer(empty.Handler())
		defer ehs.Close()
		noVector := finding.Key(xssIP, xssQID, 443)
		for _, c := range []struct {
			hs   *httptest.Server
			path string
			into any
		}{
			{hs, paths["GET /api/summary"], &Overview{}},
			{hs, paths["GET /api/findings"], &apiPage{}},
			{hs, "/api/findings?host=nowhere", &apiPage{}},
			{hs, "/api/findings?status=all&limit=1000", &apiPage{}},
			{hs, paths["GET /api/findings/{key}"], &FindingView{}},
			{hs, "/api/findings/" + url.PathEscape(noVector), &FindingView{}},
			{hs, paths["GET /api/hosts/{id}"], &HostView{}},
			{hs, paths["GET /api/qids/{qid}"], &QIDView{}},
			{ehs, "/api/summary", &Overview{}},
			{ehs, "/api/findings", &apiPage{}},
		} {
			status, _, body := get(t, c.hs, c.path)
			if status != 200 {
				t.Errorf("%s: status %d", c.path, status)
				continue
			}
			if m := pascalKey.FindAllString(body, 5); m != nil {
				t.Errorf("%s: names not in snake_case: %v", c.path, m)
			}
			if err := json.Unmarshal([]byte(body), c.into); err != nil {
				t.Fatalf("%s: %v", c.path, err)
			}
			if nils := nilLists(reflect.ValueOf(c.into), ""); nils != nil {
				t.Errorf("%s: null lists: %v", c.path, nils)
			}
		}
	})
}
