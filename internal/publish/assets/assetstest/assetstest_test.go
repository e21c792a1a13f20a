package assetstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func call(t *testing.T, s *Server, method, path, body string) (int, any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.BaseURL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	o := s.Options()
	if o.User != "" {
		req.SetBasicAuth(o.User, o.Token)
	} else {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v any
	json.Unmarshal(b, &v)
	return res.StatusCode, v
}

func TestShapes(t *testing.T) {
	s := New(Options{PageSize: 2})
	defer s.Close()
	hostID := s.AddType("Host", Attr{Name: "Count", DefaultType: Integer})
	attrs := s.Types()["Host"].Attrs
	name, count := attrs[1].ID, attrs[4].ID
	for i := range 3 {
		st, v := call(t, s, "POST", "/object/create", fmt.Sprintf(`{"objectTypeId":"%d","attributes":[{"objectTypeAttributeId":"%d","objectAttributeValues":[{"value":"h%d"}]}]}`, hostID, name, i))
		if st != 201 || v.(map[string]any)["objectKey"] == nil {
			t.Fatalf("create: %d %v", st, v)
		}
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		has                      string
	}{
		{"bad integer", "POST", "/object/create", fmt.Sprintf(`{"objectTypeId":"%d","attributes":[{"objectTypeAttributeId":"%d","objectAttributeValues":[{"value":"x"}]},{"objectTypeAttributeId":"%d","objectAttributeValues":[{"value":"zz"}]}]}`, hostID, name, count), 400, "Invalid value"},
		{"no label", "POST", "/object/create", fmt.Sprintf(`{"objectTypeId":"%d","attributes":[]}`, hostID), 400, "must have a value"},
		{"unknown object", "PUT", "/object/999", `{}`, 404, "not found"},
		{"type without icon", "POST", "/objecttype/create", `{"name":"X","objectSchemaId":"1"}`, 400, "iconId"},
		{"duplicate type", "POST", "/objecttype/create", `{"name":"Host","objectSchemaId":"1","iconId":"7"}`, 400, "already exists"},
		{"reference without reference type", "POST", fmt.Sprintf("/objecttypeattribute/%d", hostID), fmt.Sprintf(`{"name":"Parent","type":1,"typeValue":"%d"}`, hostID), 400, "map[]"},
		{"bad AQL", "POST", "/object/aql", `{"qlQuery":"what"}`, 400, "AQL"},
	} {
		st, v := call(t, s, tc.method, tc.path, tc.body)
		if st != tc.status || !strings.Contains(fmt.Sprint(v), tc.has) {
			t.Errorf("%s: %d %v", tc.name, st, v)
		}
	}
	st, v := call(t, s, "POST", "/object/aql?startAt=0&maxResults=50", fmt.Sprintf(`{"qlQuery":"objectTypeId = %d AND Name IN (\"h0\", \"h2\", \"zz\")"}`, hostID))
	m, _ := v.(map[string]any)
	if st != 200 || m["total"] != 2.0 || m["isLast"] != true || len(m["values"].([]any)) != 2 {
		t.Errorf("aql: %d %v", st, v)
	}
	st, v = call(t, s, "POST", "/object/aql?startAt=0&maxResults=50", fmt.Sprintf(`{"qlQuery":"objectTypeId = %d"}`, hostID))
	if m := v.(map[string]any); m["isLast"] != false || len(m["values"].([]any)) != 2 {
		t.Errorf("aql page: %v", v)
	}
	dc := New(Options{Flavor: "datacenter", DCBase: "/rest/insight/1.0"})
	defer dc.Close()
	if st, v := call(t, dc, "GET", "/objectschema/list", ""); st != 200 || v.(map[string]any)["objectschemas"] == nil {
		t.Errorf("DC schemas: %v", v)
	}
	if st, _ := call(t, dc, "GET", "/aql/objects?qlQuery=Name%3D%22x%22", ""); st != 404 {
		t.Errorf("AQL on an Insight base: %d", st)
	}
}
