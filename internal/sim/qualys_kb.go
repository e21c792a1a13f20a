package sim

import (
	"io"
	"time"

	"qvt/internal/qualys"
)

// The KnowledgeBase API, /api/2.0/fo/knowledge_base/vuln/?action=list
// (qualys-api.md section 1). It has no truncation: a call returns every
// QID its filters select, sorted by QID, and clients page by ids or
// id_min/id_max ranges.
var kbAPI = qualysAPI{
	name: APIKB,
	params: paramSet(
		"action", "echo_request", "details", "ids", "id_min", "id_max", "is_patchable",
		"last_modified_after", "last_modified_before",
		"last_modified_by_user_after", "last_modified_by_user_before",
		"last_modified_by_service_after", "last_modified_by_service_before",
		"published_after", "published_before",
		"discovery_method", "discovery_auth_types",
		"show_pci_reasons", "show_supported_modules_info", "show_disabled_flag", "show_qid_change_log",
	),
	prepare: prepareKB,
}

// kbDTD is the DTD path the KB response's DOCTYPE names.
const kbDTD = "/api/2.0/fo/knowledge_base/vuln/knowledge_base_vuln_list_output.dtd"

// kbFilter is a KB request's filters. Time bounds are half-open:
// after ≤ t < before, so that consecutive windows neither miss nor repeat
// an entry.
type kbFilter struct {
	ids                   []idRange
	idMin, idMax          int64
	modAfter, modBefore   time.Time
	pubAfter, pubBefore   time.Time
	patchable             int // -1 either, 0 or 1
	details               string
	showModules, showFlag bool
}

func prepareKB(s *Server, q *qreq) (bodyFunc, shape, *qerror) {
	p := q.p
	f := kbFilter{idMax: 1<<63 - 1, patchable: -1, details: "Basic"}
	var e *qerror
	if e = oneOf(p, "details", "Basic", "All", "None"); e != nil {
		return nil, shape{}, e
	}
	if v := p.Get("details"); v != "" {
		f.details = v
	}
	if f.ids, e = idList(p, "ids"); e != nil {
		return nil, shape{}, e
	}
	if n, ok, e := intParam(p, "id_min", 1, 1<<62); e != nil {
		return nil, shape{}, e
	} else if ok {
		f.idMin = n
	}
	if n, ok, e := intParam(p, "id_max", 1, 1<<62); e != nil {
		return nil, shape{}, e
	} else if ok {
		f.idMax = n
	}
	if n, ok, e := intParam(p, "is_patchable", 0, 1); e != nil {
		return nil, shape{}, e
	} else if ok {
		f.patchable = int(n)
	}
	// gen's entries change only by Qualys' service, so "by service" and
	// plain last_modified bounds are the same; user edits
	// (LAST_CUSTOMIZATION) are too rare in gen to filter on.
	// The tighter of two bounds of a kind wins.
	bound := func(after bool, names ...string) (time.Time, *qerror) {
		var t time.Time
		for _, name := range names {
			v, ok, e := dateParam(p, name)
			if e != nil {
				return t, e
			}
			if ok && (t.IsZero() || after == v.After(t)) {
				t = v
			}
		}
		return t, nil
	}
	if f.modAfter, e = bound(true, "last_modified_after", "last_modified_by_service_after"); e != nil {
		return nil, shape{}, e
	}
	if f.modBefore, e = bound(false, "last_modified_before", "last_modified_by_service_before"); e != nil {
		return nil, shape{}, e
	}
	if f.pubAfter, e = bound(true, "published_after"); e != nil {
		return nil, shape{}, e
	}
	if f.pubBefore, e = bound(false, "published_before"); e != nil {
		return nil, shape{}, e
	}
	if _, e = bound(true, "last_modified_by_user_after", "last_modified_by_user_before"); e != nil {
		return nil, shape{}, e
	}
	if e = oneOf(p, "discovery_method", "Remote", "Authenticated", "RemoteOnly", "AuthenticatedOnly", "RemoteAndAuthenticated"); e != nil {
		return nil, shape{}, e
	}
	for _, name := range []string{"echo_request", "show_pci_reasons", "show_qid_change_log"} {
		if _, e = flag(p, name, false); e != nil {
			return nil, shape{}, e
		}
	}
	if f.showModules, e = flag(p, "show_supported_modules_info", false); e != nil {
		return nil, shape{}, e
	}
	if f.showFlag, e = flag(p, "show_disabled_flag", false); e != nil {
		return nil, shape{}, e
	}

	qids := f.selectQIDs(q)
	if f.details == "None" && f.patchable < 0 {
		ids := make([]int64, len(qids))
		for i, id := range qids {
			ids[i] = int64(id)
		}
		return func(w io.Writer) error {
			return writeIDSet(w, qualys.RootKB, kbDTD, q.datetime, ids, nil)
		}, shape{recordEnds: []string{"</ID>\n", "</ID_RANGE>\n"}, tail: len(qualys.RootKB) + 4}, nil
	}
	return func(w io.Writer) error { return f.write(w, q, qids) },
		shape{recordEnds: []string{"</VULN>\n"}, tail: len(qualys.RootKB) + 4}, nil
}

// selectQIDs returns, ascending, the QIDs the filters select without
// generating entries: ids and ranges, then times (gen's
// VulnsModifiedSince for last_modified_after, so the double agrees with
// gen exactly).
func (f *kbFilter) selectQIDs(q *qreq) []int {
	var since map[int]bool
	if !f.modAfter.IsZero() {
		since = map[int]bool{}
		for _, id := range q.d.VulnsModifiedSince(f.modAfter, q.epoch) {
			since[id] = true
		}
	}
	var out []int
	for _, id := range q.d.QIDs() {
		id64 := int64(id)
		if id64 < f.idMin || id64 > f.idMax || f.ids != nil && !inRanges(f.ids, id64) {
			continue
		}
		if since != nil && !since[id] {
			continue
		}
		if !f.modBefore.IsZero() || !f.pubAfter.IsZero() || !f.pubBefore.IsZero() {
			pub, mod, _ := q.d.VulnTimes(id, q.epoch)
			if !f.modBefore.IsZero() && !mod.Before(f.modBefore) ||
				!f.pubAfter.IsZero() && pub.Before(f.pubAfter) ||
				!f.pubBefore.IsZero() && !pub.Before(f.pubBefore) {
				continue
			}
		}
		out = append(out, id)
	}
	return out
}

// write streams the VULN_LIST (or, with is_patchable and details=None,
// the ID_SET of the entries that pass). details=All writes every field gen
// produces. details=Basic, Qualys' default, leaves out CORRELATION
// (exploits, malware): the recorded default-details response
// (testdata/kb_jupiterone_42qids.xml, qualys-api.md 1.3) has DIAGNOSIS,
// CONSEQUENCE, SOLUTION, THREAT_INTELLIGENCE and DISCOVERY but no
// CORRELATION, and the docs say Basic carries the CVSS scores.
// SUPPORTED_MODULES and IS_DISABLED appear only when their show_ flag asks.
func (f *kbFilter) write(w io.Writer, q *qreq, qids []int) error {
	var idSet []int64
	var kw *qualys.KBWriter
	if f.details != "None" {
		kw = qualys.NewKBWriter(w, q.datetime)
	}
	for _, id := range qids {
		v := q.d.Vuln(id, q.epoch)
		if v.QID == 0 || f.patchable >= 0 && v.Patchable != (f.patchable == 1) {
			continue
		}
		if kw == nil {
			idSet = append(idSet, int64(id))
			continue
		}
		if f.details == "Basic" {
			v.Exploits, v.Malware = nil, nil
		}
		if !f.showModules {
			v.SupportedModules = ""
		}
		if !f.showFlag {
			v.Disabled = false
		}
		if err := kw.Vuln(&v); err != nil {
			return err
		}
	}
	if kw == nil {
		return writeIDSet(w, qualys.RootKB, kbDTD, q.datetime, idSet, nil)
	}
	return kw.Close(nil)
}
