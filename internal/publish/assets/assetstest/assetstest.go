// Package assetstest is an httptest double of the Jira Service Management
// Assets REST API, Cloud and Data Center, keeping state (schemas, object
// types, attributes, objects) so tests can assert what a publisher did.
//
// Served, under the flavor's base (Cloud: /jsm/assets/workspace/{id}/v1;
// Data Center: /rest/assets/1.0 or /rest/insight/1.0):
//
//	GET  /objectschema/list                   Cloud {startAt,maxResults,total,isLast,values}; DC {objectschemas}
//	GET  /objectschema/{id}/objecttypes/flat
//	POST /objecttype/create                   iconId required; name unique; description ≤ 70
//	GET  /objecttype/{id}/attributes
//	POST /objecttypeattribute/{objectTypeId}  a reference needs typeValue and additionalValue (else 400, empty errors)
//	GET  /config/referencetype
//	GET  /icon/global
//	POST /object/create                       201; values checked by attribute type
//	GET|PUT /object/{id}                      PUT replaces the attributes it lists
//	POST /object/aql?startAt&maxResults       Cloud: {startAt,maxResults,total,isLast,values}
//	GET  /aql/objects?qlQuery&page&resultPerPage   DC (assets base), 1-based pages
//	GET  /iql/objects?iql&page&resultPerPage       DC (insight base)
//
// and, on the Jira site, GET /rest/servicedeskapi/assets/workspace.
// Ids are strings on Cloud and numbers on Data Center, as there. Faults
// (429s without Retry-After, as Assets sends them) come through Base.
package assetstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"qvt/internal/publish/atlassian/atlassiantest"
)

// Options configure a double.
type Options struct {
	Flavor    string // "cloud" (default) or "datacenter"
	DCBase    string // "/rest/assets/1.0" (default) or "/rest/insight/1.0"
	Workspace string // default "ws-1"
	User      string
	Token     string
	PageSize  int // most objects per search page, default 25
}

// Attribute type ids (type 0 "Default" with defaultTypeId, 1 Object).
const (
	Text    = 0
	Integer = 1
	Boolean = 2
	Double  = 3
	Date    = 4
)

// Attr is an object type attribute.
type Attr struct {
	ID          int
	Name        string
	Type        int // 0 default, 1 object reference
	DefaultType int // for type 0
	RefType     int // for type 1: the referenced object type id
	Label       bool
	System      bool
}

// ObjectType is an object type with its attributes.
type ObjectType struct {
	ID, SchemaID int
	Name         string
	Attrs        []*Attr
}

// Object is an object; Values maps attribute names to values
// (references as the referenced object's id).
type Object struct {
	ID     int
	Key    string
	Type   string
	Label  string
	Values map[string][]string
}

// Server is the double.
type Server struct {
	*httptest.Server
	atlassiantest.Base
	opt  Options
	base string

	mu      sync.Mutex
	seq     int
	schemas []schema
	types   []*ObjectType
	objects []*obj
}

type schema struct {
	ID        int
	Name, Key string
}

type obj struct {
	id     int
	typeID int
	values map[int][]string // attribute id → values
}

// New starts a double with one schema, "IT Assets" (key ITA, id 1).
func New(opt Options) *Server {
	if opt.Flavor == "" {
		opt.Flavor = "cloud"
	}
	if opt.DCBase == "" {
		opt.DCBase = "/rest/assets/1.0"
	}
	if opt.Workspace == "" {
		opt.Workspace = "ws-1"
	}
	if opt.Token == "" {
		if opt.Flavor == "cloud" {
			opt.User, opt.Token = "bot@example.com", "tok"
		} else {
			opt.Token = "pat"
		}
	}
	if opt.PageSize == 0 {
		opt.PageSize = 25
	}
	s := &Server{opt: opt, schemas: []schema{{ID: 1, Name: "IT Assets", Key: "ITA"}}, seq: 100}
	s.base = opt.DCBase
	if opt.Flavor == "cloud" {
		s.base = "/jsm/assets/workspace/" + opt.Workspace + "/v1"
	}
	s.Auth = atlassiantest.Auth{User: opt.User, Token: opt.Token}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, s.route)
	}))
	return s
}

// Options are the double's options, defaults filled in.
func (s *Server) Options() Options { return s.opt }

// Base is the API base URL (what ASSETS_URL names).
func (s *Server) BaseURL() string { return s.URL + s.base }

// AddType creates an object type directly (setting up a schema that is
// partly there), with the default attributes (Key, Name, Created,
// Updated) and attrs. It returns its id.
func (s *Server) AddType(name string, attrs ...Attr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newType(1, name)
	for _, a := range attrs {
		if slices.ContainsFunc(t.Attrs, func(x *Attr) bool { return strings.EqualFold(x.Name, a.Name) }) {
			continue
		}
		s.seq++
		a.ID = s.seq
		t.Attrs = append(t.Attrs, &a)
	}
	return t.ID
}

// Types returns the object types, by name.
func (s *Server) Types() map[string]ObjectType {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ObjectType{}
	for _, t := range s.types {
		c := *t
		c.Attrs = nil
		for _, a := range t.Attrs {
			ac := *a
			c.Attrs = append(c.Attrs, &ac)
		}
		out[t.Name] = c
	}
	return out
}

// Objects returns the objects of a type, by label.
func (s *Server) Objects(typeName string) map[string]Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Object{}
	for _, o := range s.objects {
		t := s.typeByID(o.typeID)
		if t.Name != typeName {
			continue
		}
		x := s.export(o)
		out[x.Label] = x
	}
	return out
}

// Count counts all objects.
func (s *Server) CountObjects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

// Snapshot is the state as JSON, to compare before and after.
func (s *Server) Snapshot() string {
	b, _ := json.Marshal(map[string]any{"types": s.Types(), "hosts": s.Objects("Host"), "all": s.objectsAll()})
	return string(b)
}

func (s *Server) objectsAll() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Object
	for _, o := range s.objects {
		out = append(out, s.export(o))
	}
	return out
}

func (s *Server) export(o *obj) Object {
	t := s.typeByID(o.typeID)
	x := Object{ID: o.id, Key: "ITA-" + strconv.Itoa(o.id), Type: t.Name, Values: map[string][]string{}}
	for _, a := range t.Attrs {
		if v, ok := o.values[a.ID]; ok {
			x.Values[a.Name] = slices.Clone(v)
			if a.Label && len(v) > 0 {
				x.Label = v[0]
			}
		}
	}
	return x
}

func (s *Server) newType(schemaID int, name string) *ObjectType {
	s.seq++
	t := &ObjectType{ID: s.seq, SchemaID: schemaID, Name: name}
	for _, d := range []Attr{{Name: "Key", System: true}, {Name: "Name", Label: true}, {Name: "Created", System: true, DefaultType: 6}, {Name: "Updated", System: true, DefaultType: 6}} {
		s.seq++
		d.ID = s.seq
		t.Attrs = append(t.Attrs, &d)
	}
	s.types = append(s.types, t)
	return t
}

func (s *Server) typeByID(id int) *ObjectType {
	for _, t := range s.types {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// id renders an id as the flavor does: a string on Cloud, a number on DC.
func (s *Server) id(n int) any {
	if s.opt.Flavor == "cloud" {
		return strconv.Itoa(n)
	}
	return n
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/rest/servicedeskapi/assets/workspace" && r.Method == http.MethodGet {
		if s.opt.Flavor != "cloud" {
			atlassiantest.WriteError(w, 404, []string{"not found"}, nil)
			return
		}
		atlassiantest.WriteJSON(w, 200, map[string]any{"size": 1, "start": 0, "limit": 50, "isLastPage": true,
			"values": []any{map[string]any{"workspaceId": s.opt.Workspace}}})
		return
	}
	if !strings.HasPrefix(p, s.base+"/") {
		atlassiantest.WriteError(w, 404, []string{"not found: " + p}, nil)
		return
	}
	p = strings.TrimPrefix(p, s.base)
	s.mu.Lock()
	defer s.mu.Unlock()
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/objectschema/list" && r.Method == http.MethodGet:
		var vals []any
		for _, sc := range s.schemas {
			vals = append(vals, map[string]any{"id": s.id(sc.ID), "name": sc.Name, "objectSchemaKey": sc.Key, "status": "Ok"})
		}
		if s.opt.Flavor == "cloud" {
			atlassiantest.WriteJSON(w, 200, map[string]any{"startAt": 0, "maxResults": 25, "total": len(vals), "isLast": true, "values": vals})
		} else {
			atlassiantest.WriteJSON(w, 200, map[string]any{"objectschemas": vals})
		}
	case len(seg) == 4 && seg[0] == "objectschema" && seg[2] == "objecttypes" && seg[3] == "flat" && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(seg[1])
		if !slices.ContainsFunc(s.schemas, func(x schema) bool { return x.ID == id }) {
			atlassiantest.WriteError(w, 404, []string{"The object schema was not found"}, nil)
			return
		}
		out := []any{}
		for _, t := range s.types {
			if t.SchemaID == id {
				out = append(out, s.typeJSON(t))
			}
		}
		atlassiantest.WriteJSON(w, 200, out)
	case p == "/objecttype/create" && r.Method == http.MethodPost:
		s.createType(w, r)
	case len(seg) == 3 && seg[0] == "objecttype" && seg[2] == "attributes" && r.Method == http.MethodGet:
		id, _ := strconv.Atoi(seg[1])
		t := s.typeByID(id)
		if t == nil {
			atlassiantest.WriteError(w, 404, []string{"The object type was not found"}, nil)
			return
		}
		out := []any{}
		for _, a := range t.Attrs {
			out = append(out, s.attrJSON(t, a))
		}
		atlassiantest.WriteJSON(w, 200, out)
	case len(seg) == 2 && seg[0] == "objecttypeattribute" && r.Method == http.MethodPost:
		s.createAttr(w, r, seg[1])
	case p == "/config/referencetype" && r.Method == http.MethodGet:
		var out []any
		for i, n := range []string{"Dependency", "Financial", "Link", "Reference", "Technical"} {
			out = append(out, map[string]any{"id": s.id(i + 1), "name": n})
		}
		atlassiantest.WriteJSON(w, 200, out)
	case p == "/icon/global" && r.Method == http.MethodGet:
		atlassiantest.WriteJSON(w, 200, []any{map[string]any{"id": s.id(1), "name": "Bug"}, map[string]any{"id": s.id(7), "name": "Server"}})
	case p == "/object/create" && r.Method == http.MethodPost:
		s.saveObject(w, r, nil)
	case len(seg) == 2 && seg[0] == "object" && seg[1] != "aql" && (r.Method == http.MethodPut || r.Method == http.MethodGet):
		id, _ := strconv.Atoi(seg[1])
		var o *obj
		for _, x := range s.objects {
			if x.id == id {
				o = x
			}
		}
		if o == nil {
			atlassiantest.WriteError(w, 404, []string{"The object was not found"}, nil)
			return
		}
		if r.Method == http.MethodGet {
			atlassiantest.WriteJSON(w, 200, s.objJSON(o))
			return
		}
		s.saveObject(w, r, o)
	case p == "/object/aql" && r.Method == http.MethodPost && s.opt.Flavor == "cloud":
		var body struct {
			QLQuery string `json:"qlQuery"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			atlassiantest.WriteError(w, 400, []string{"bad body"}, nil)
			return
		}
		q := r.URL.Query()
		start, _ := strconv.Atoi(q.Get("startAt"))
		size, err := strconv.Atoi(q.Get("maxResults"))
		if err != nil || size <= 0 {
			size = 25
		}
		s.search(w, body.QLQuery, start, size, true)
	case (p == "/aql/objects" && s.opt.DCBase == "/rest/assets/1.0" || p == "/iql/objects") && r.Method == http.MethodGet && s.opt.Flavor != "cloud":
		q := r.URL.Query()
		ql := q.Get("qlQuery")
		if p == "/iql/objects" {
			ql = q.Get("iql")
		}
		page, _ := strconv.Atoi(q.Get("page"))
		size, _ := strconv.Atoi(q.Get("resultPerPage"))
		if page < 1 {
			page = 1
		}
		if size <= 0 {
			size = 25
		}
		s.search(w, ql, (page-1)*min(size, s.opt.PageSize), size, false)
	default:
		atlassiantest.WriteError(w, 404, []string{"not found: " + r.Method + " " + p}, nil)
	}
}

func (s *Server) typeJSON(t *ObjectType) map[string]any {
	return map[string]any{"id": s.id(t.ID), "name": t.Name, "objectSchemaId": s.id(t.SchemaID), "icon": map[string]any{"id": s.id(7), "name": "Server"}}
}

var typeNames = map[int]string{0: "Text", 1: "Integer", 2: "Boolean", 3: "Double", 4: "Date", 5: "Time", 6: "DateTime", 7: "URL", 8: "Email", 9: "Textarea", 10: "Select", 11: "IP Address"}

func (s *Server) attrJSON(t *ObjectType, a *Attr) map[string]any {
	m := map[string]any{"id": s.id(a.ID), "name": a.Name, "label": a.Label, "type": a.Type, "system": a.System,
		"objectType": map[string]any{"id": s.id(t.ID), "name": t.Name}, "editable": !a.System}
	if a.Type == 0 {
		m["defaultType"] = map[string]any{"id": a.DefaultType, "name": typeNames[a.DefaultType]}
	} else {
		m["referenceObjectTypeId"] = s.id(a.RefType)
		if rt := s.typeByID(a.RefType); rt != nil {
			m["referenceObjectType"] = map[string]any{"id": s.id(rt.ID), "name": rt.Name}
		}
	}
	return m
}

func (s *Server) createType(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name           string          `json:"name"`
		Description    string          `json:"description"`
		IconID         json.RawMessage `json:"iconId"`
		ObjectSchemaID json.RawMessage `json:"objectSchemaId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		atlassiantest.WriteError(w, 400, []string{"bad body"}, nil)
		return
	}
	sid, _ := strconv.Atoi(strings.Trim(string(body.ObjectSchemaID), `"`))
	if !slices.ContainsFunc(s.schemas, func(x schema) bool { return x.ID == sid }) {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"objectSchemaId": "The object schema was not found"})
		return
	}
	if len(body.IconID) == 0 || string(body.IconID) == "null" {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"iconId": "rlabs-insight-i18n-constraint-violation-iconId-required"})
		return
	}
	if len([]rune(body.Description)) > 70 {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"description": "rlabs-insight-i18n-constraint-violation-description-max-length"})
		return
	}
	if strings.TrimSpace(body.Name) == "" || slices.ContainsFunc(s.types, func(t *ObjectType) bool { return t.SchemaID == sid && strings.EqualFold(t.Name, body.Name) }) {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"name": "An object type with the name " + body.Name + " already exists"})
		return
	}
	t := s.newType(sid, body.Name)
	atlassiantest.WriteJSON(w, 201, s.typeJSON(t))
}

func (s *Server) createAttr(w http.ResponseWriter, r *http.Request, typeID string) {
	id, _ := strconv.Atoi(typeID)
	t := s.typeByID(id)
	if t == nil {
		atlassiantest.WriteError(w, 404, []string{"The object type was not found"}, nil)
		return
	}
	var body struct {
		Name            string          `json:"name"`
		Type            json.Number     `json:"type"`
		DefaultTypeID   json.RawMessage `json:"defaultTypeId"`
		TypeValue       string          `json:"typeValue"`
		AdditionalValue string          `json:"additionalValue"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		atlassiantest.WriteError(w, 400, []string{"bad body: " + err.Error()}, nil)
		return
	}
	if strings.TrimSpace(body.Name) == "" || slices.ContainsFunc(t.Attrs, func(a *Attr) bool { return strings.EqualFold(a.Name, body.Name) }) {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"name": "An attribute with the name " + body.Name + " already exists"})
		return
	}
	typ, _ := strconv.Atoi(body.Type.String())
	a := &Attr{Name: body.Name, Type: typ}
	switch typ {
	case 0:
		dt, err := strconv.Atoi(strings.Trim(string(body.DefaultTypeID), `"`))
		if _, known := typeNames[dt]; err != nil || !known {
			atlassiantest.WriteError(w, 400, nil, map[string]string{"defaultTypeId": "rlabs-insight-i18n-constraint-violation-default-type"})
			return
		}
		a.DefaultType = dt
	case 1:
		ref, _ := strconv.Atoi(body.TypeValue)
		if s.typeByID(ref) == nil || body.AdditionalValue == "" {
			atlassiantest.WriteError(w, 400, []string{}, map[string]string{}) // as Assets does: no word on why
			return
		}
		a.RefType = ref
	default:
		atlassiantest.WriteError(w, 400, nil, map[string]string{"type": "unsupported by the double"})
		return
	}
	s.seq++
	a.ID = s.seq
	t.Attrs = append(t.Attrs, a)
	atlassiantest.WriteJSON(w, 201, s.attrJSON(t, a))
}

var reDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (s *Server) saveObject(w http.ResponseWriter, r *http.Request, o *obj) {
	var body struct {
		ObjectTypeID json.RawMessage `json:"objectTypeId"`
		Attributes   []struct {
			ObjectTypeAttributeID json.RawMessage `json:"objectTypeAttributeId"`
			ObjectAttributeValues []struct {
				Value any `json:"value"`
			} `json:"objectAttributeValues"`
		} `json:"attributes"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		atlassiantest.WriteError(w, 400, []string{"bad body"}, nil)
		return
	}
	tid, _ := strconv.Atoi(strings.Trim(string(body.ObjectTypeID), `"`))
	if o != nil && len(body.ObjectTypeID) == 0 {
		tid = o.typeID
	}
	t := s.typeByID(tid)
	if t == nil || (o != nil && tid != o.typeID) {
		atlassiantest.WriteError(w, 400, nil, map[string]string{"objectTypeId": "The object type was not found"})
		return
	}
	vals := map[int][]string{}
	errs := map[string]string{}
	for _, at := range body.Attributes {
		aid, _ := strconv.Atoi(strings.Trim(string(at.ObjectTypeAttributeID), `"`))
		i := slices.IndexFunc(t.Attrs, func(a *Attr) bool { return a.ID == aid })
		if i < 0 {
			errs[strconv.Itoa(aid)] = "The attribute does not belong to the object type"
			continue
		}
		a := t.Attrs[i]
		if a.System {
			errs[a.Name] = "The attribute cannot be edited"
			continue
		}
		var vs []string
		for _, v := range at.ObjectAttributeValues {
			sv := fmt.Sprint(v.Value)
			ok := true
			switch {
			case a.Type == 1:
				ref := s.find(sv)
				ok = ref != nil && ref.typeID == a.RefType
				if ok {
					sv = strconv.Itoa(ref.id)
				}
			case a.DefaultType == Integer:
				_, err := strconv.ParseInt(sv, 10, 32)
				ok = err == nil
			case a.DefaultType == Double:
				_, err := strconv.ParseFloat(sv, 64)
				ok = err == nil
			case a.DefaultType == Date:
				_, err := time.Parse("2006-01-02", sv)
				ok = err == nil && reDate.MatchString(sv)
			case a.DefaultType == Boolean:
				ok = sv == "true" || sv == "false"
			case a.DefaultType == Text:
				ok = utf8.RuneCountInString(sv) <= 255 // Assets' limit of a text value
			}
			if !ok {
				errs[a.Name] = "Invalid value (" + sv + ")"
				continue
			}
			vs = append(vs, sv)
		}
		vals[a.ID] = vs
	}
	for _, a := range t.Attrs {
		if a.Label {
			v, set := vals[a.ID]
			if (set && len(v) == 0) || (!set && o == nil) {
				errs[a.Name] = "The label attribute " + a.Name + " must have a value"
			}
		}
	}
	if len(errs) > 0 {
		atlassiantest.WriteError(w, 400, nil, errs)
		return
	}
	status := 200
	if o == nil {
		s.seq++
		o = &obj{id: s.seq, typeID: tid, values: map[int][]string{}}
		s.objects = append(s.objects, o)
		status = 201
	}
	for k, v := range vals {
		if len(v) == 0 {
			delete(o.values, k)
		} else {
			o.values[k] = v
		}
	}
	atlassiantest.WriteJSON(w, status, s.objJSON(o))
}

// find finds an object by id or key.
func (s *Server) find(ref string) *obj {
	id, err := strconv.Atoi(strings.TrimPrefix(ref, "ITA-"))
	if err != nil {
		return nil
	}
	for _, o := range s.objects {
		if o.id == id {
			return o
		}
	}
	return nil
}

func (s *Server) objJSON(o *obj) map[string]any {
	x := s.export(o)
	t := s.typeByID(o.typeID)
	var attrs []any
	for _, a := range t.Attrs {
		v, ok := o.values[a.ID]
		if !ok {
			continue
		}
		var vs []any
		for _, e := range v {
			vs = append(vs, map[string]any{"value": e, "displayValue": e})
		}
		attrs = append(attrs, map[string]any{"objectTypeAttributeId": s.id(a.ID), "objectAttributeValues": vs})
	}
	m := map[string]any{"id": s.id(o.id), "objectKey": x.Key, "label": x.Label,
		"objectType": map[string]any{"id": s.id(t.ID), "name": t.Name}, "attributes": attrs}
	if s.opt.Flavor == "cloud" {
		m["workspaceId"] = s.opt.Workspace
		m["globalId"] = s.opt.Workspace + ":" + strconv.Itoa(o.id)
	}
	return m
}

// search runs an AQL query: clauses joined by AND, each
// objectTypeId = N, objectType = "name", or <attribute> = "v" /
// <attribute> IN ("v", ...).
func (s *Server) search(w http.ResponseWriter, ql string, start, size int, cloud bool) {
	match, err := s.aql(ql)
	if err != nil {
		atlassiantest.WriteError(w, 400, []string{err.Error()}, nil)
		return
	}
	size = min(size, s.opt.PageSize)
	end := min(start+size, len(match))
	start = min(start, len(match))
	var vals []any
	for _, o := range match[start:end] {
		vals = append(vals, s.objJSON(o))
	}
	if vals == nil {
		vals = []any{}
	}
	if cloud {
		atlassiantest.WriteJSON(w, 200, map[string]any{"startAt": start, "maxResults": size, "total": len(match), "isLast": end >= len(match), "values": vals})
		return
	}
	atlassiantest.WriteJSON(w, 200, map[string]any{"objectEntries": vals, "totalFilterCount": len(match),
		"pageNumber": start/max(size, 1) + 1, "pageSize": (len(match) + size - 1) / max(size, 1), "pageObjectSize": size,
		"startIndex": start, "toIndex": end})
}

var reClause = regexp.MustCompile(`(?i)^\s*("([^"]+)"|[A-Za-z][A-Za-z0-9 ]*?)\s*(=|\bIN\b)\s*(.+?)\s*$`)

func splitAnd(q string) []string {
	var parts []string
	in := false
	last := 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '"':
			in = !in
		case '\\':
			i++
		case ' ':
			if !in && i+5 <= len(q) && strings.EqualFold(q[i:i+5], " AND ") {
				parts = append(parts, q[last:i])
				last = i + 5
				i += 4
			}
		}
	}
	return append(parts, q[last:])
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = strings.ReplaceAll(strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), `\\`, `\`)
	}
	return v
}

func values(v string) []string {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "(") {
		return []string{unquote(v)}
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
	var out []string
	in := false
	last := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			in = !in
		case '\\':
			i++
		case ',':
			if !in {
				out = append(out, unquote(v[last:i]))
				last = i + 1
			}
		}
	}
	return append(out, unquote(v[last:]))
}

func (s *Server) aql(q string) ([]*obj, error) {
	if strings.TrimSpace(q) == "" {
		return nil, fmt.Errorf("AQL: the query is empty")
	}
	type cond struct {
		field string
		vals  []string
	}
	var conds []cond
	for _, part := range splitAnd(q) {
		m := reClause.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("AQL: cannot parse %q", part)
		}
		f := m[1]
		if m[2] != "" {
			f = m[2]
		}
		conds = append(conds, cond{field: f, vals: values(m[4])})
	}
	var out []*obj
	for _, o := range s.objects {
		t := s.typeByID(o.typeID)
		ok := true
		for _, c := range conds {
			var have []string
			switch strings.ToLower(c.field) {
			case "objecttypeid":
				have = []string{strconv.Itoa(t.ID)}
			case "objecttype":
				have = []string{t.Name}
			default:
				i := slices.IndexFunc(t.Attrs, func(a *Attr) bool { return strings.EqualFold(a.Name, c.field) })
				if i < 0 {
					return nil, fmt.Errorf("AQL: no attribute %q on %s", c.field, t.Name)
				}
				have = o.values[t.Attrs[i].ID]
			}
			if !slices.ContainsFunc(c.vals, func(v string) bool {
				return slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, v) })
			}) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, nil
}
