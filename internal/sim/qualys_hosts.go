package sim

import (
	"io"
	"slices"
	"strings"
	"time"

	"qvt/internal/qualys"
)

// The host list API, /api/2.0/fo/asset/host/?action=list (details=None
// only: the ID_SET clients use to split detection downloads), and the Host
// List VM Detection API, /api/2.0/fo/asset/host/vm/detection/?action=list
// (qualys-api.md section 3). Both page by truncation_limit hosts, in
// ascending host id, with a 1980 warning whose URL repeats the call's
// parameters with id_min set to the next host's id.

var hostListAPI = qualysAPI{
	name: APIHostList,
	params: paramSet(
		"action", "echo_request", "details", "truncation_limit", "ids", "id_min", "id_max",
		"vm_processed_before", "vm_processed_after",
		"os_pattern", "ips", "ipv6", "ag_ids", "ag_titles", "network_ids", "compliance_enabled",
		"no_vm_scan_since", "no_compliance_scan_since", "vm_scan_since", "compliance_scan_since",
		"vm_scan_date_before", "vm_scan_date_after", "vm_auth_scan_date_before", "vm_auth_scan_date_after",
		"scap_scan_since", "no_scap_scan_since",
		"use_tags", "tag_set_by", "tag_include_selector", "tag_exclude_selector", "tag_set_include", "tag_set_exclude",
		"show_tags", "show_asset_id", "show_cloud_tags", "cloud_tag_fields", "host_metadata", "host_metadata_fields",
		"show_trurisk", "show_trurisk_factors", "trurisk_min", "trurisk_max",
	),
	prepare: prepareHostList,
}

var detectionAPI = qualysAPI{
	name: APIDetections,
	params: paramSet(
		"action", "echo_request", "output_format", "suppress_duplicated_data_from_csv", "truncation_limit",
		"ids", "id_min", "id_max", "vm_processed_before", "vm_processed_after",
		"status", "qids", "severities", "include_vuln_type", "qds_min", "qds_max",
		"detection_updated_since", "detection_updated_before", "detection_processed_after", "detection_processed_before",
		"show_results", "show_reopened_info", "show_asset_id", "show_tags", "show_igs", "show_qds", "show_qds_factors",
		"include_ignored", "include_disabled",
		// Accepted without effect:
		"host_metadata", "host_metadata_fields", "show_cloud_tags", "cloud_tag_fields",
		"arf_kernel_filter", "arf_service_filter", "arf_config_filter", "active_kernels_only", "filter_superseded_qids",
		"include_search_list_titles", "exclude_search_list_titles", "include_search_list_ids", "exclude_search_list_ids",
		"detection_last_tested_since", "detection_last_tested_before",
		"detection_last_tested_since_days", "detection_last_tested_before_days", "max_days_since_detection_updated",
		"ips", "ipv6", "ag_ids", "ag_titles", "network_ids", "network_name",
		"vm_scan_since", "no_vm_scan_since", "max_days_since_last_vm_scan",
		"vm_scan_date_before", "vm_scan_date_after", "vm_auth_scan_date_before", "vm_auth_scan_date_after",
		"compliance_enabled", "os_pattern",
		"use_tags", "tag_set_by", "tag_include_selector", "tag_exclude_selector", "tag_set_include", "tag_set_exclude",
	),
	prepare: prepareDetections,
}

// detectionAPINoQDS is the detection API of a subscription without QDS
// (Config.RejectQDS): show_qds and show_qds_factors are unknown to it.
var detectionAPINoQDS = func() qualysAPI {
	a := detectionAPI
	a.params = paramSet()
	for k := range detectionAPI.params {
		if k != "show_qds" && k != "show_qds_factors" {
			a.params[k] = true
		}
	}
	return a
}()

const hostListDTD = "/api/2.0/fo/asset/host/host_list_output.dtd"

// hostFilter is what selects hosts, before their detections are looked
// at.
type hostFilter struct {
	ids                             []idRange
	idMin, idMax                    int64
	processedAfter, processedBefore time.Time
	limit                           int // truncation_limit; 0 = no truncation
}

func parseHostFilter(s *Server, q *qreq) (hostFilter, *qerror) {
	p := q.p
	f := hostFilter{idMax: 1<<63 - 1, limit: s.cfg.TruncationLimit}
	var e *qerror
	if f.ids, e = idList(p, "ids"); e != nil {
		return f, e
	}
	if n, ok, e := intParam(p, "id_min", 1, 1<<62); e != nil {
		return f, e
	} else if ok {
		f.idMin = n
	}
	if n, ok, e := intParam(p, "id_max", 1, 1<<62); e != nil {
		return f, e
	} else if ok {
		f.idMax = n
	}
	if n, ok, e := intParam(p, "truncation_limit", 0, 1000000); e != nil {
		return f, e
	} else if ok {
		f.limit = int(n)
	}
	if f.processedAfter, _, e = dateParam(p, "vm_processed_after"); e != nil {
		return f, e
	}
	if f.processedBefore, _, e = dateParam(p, "vm_processed_before"); e != nil {
		return f, e
	}
	return f, nil
}

// candidates returns, ascending, the ids of the hosts that exist at the
// call's epoch and pass the filter. vm_processed_after keeps the hosts
// whose last scan was processed at or after the time (gen's
// HostsProcessedSince), vm_processed_before the others before it.
func (f *hostFilter) candidates(q *qreq) []int64 {
	ids := q.d.HostIDs(q.epoch)
	keep := func(set []int64, want bool) {
		ids = slices.DeleteFunc(ids, func(id int64) bool {
			_, found := slices.BinarySearch(set, id)
			return found != want
		})
	}
	if !f.processedAfter.IsZero() {
		keep(q.d.HostsProcessedSince(f.processedAfter, q.epoch), true)
	}
	if !f.processedBefore.IsZero() {
		keep(q.d.HostsProcessedSince(f.processedBefore, q.epoch), false)
	}
	return slices.DeleteFunc(ids, func(id int64) bool {
		return id < f.idMin || id > f.idMax || f.ids != nil && !inRanges(f.ids, id)
	})
}

func prepareHostList(s *Server, q *qreq) (bodyFunc, shape, *qerror) {
	switch d := q.p.Get("details"); d {
	case "None":
	case "", "Basic", "All", "All/AGs", "Basic/AGs":
		// Qualys' default is Basic (HOST_LIST with HOST records); the
		// double only has the ID_SET form clients split work with.
		return nil, shape{}, badValue("details", d, "the qvt double serves details=None only")
	default:
		return nil, shape{}, badValue("details", d, "valid values are Basic, Basic/AGs, All, All/AGs, None")
	}
	f, e := parseHostFilter(s, q)
	if e != nil {
		return nil, shape{}, e
	}
	ids := f.candidates(q)
	var warn *qualys.Warning
	if f.limit > 0 && len(ids) > f.limit {
		warn = truncationWarning(q, PathHostList, f.limit, ids[f.limit])
		ids = ids[:f.limit]
	}
	sh := shape{recordEnds: []string{"</ID>\n", "</ID_RANGE>\n"}, tail: len(qualys.RootHostList) + 4}
	return func(w io.Writer) error {
		if warn == nil {
			return qualys.WriteHostIDList(w, q.datetime, ids)
		}
		return writeIDSet(w, qualys.RootHostList, hostListDTD, q.datetime, ids, warn)
	}, sh, nil
}

// detFilter is a detection request: the hosts, the detections kept of each,
// and the optional parts shown.
type detFilter struct {
	hosts           hostFilter
	status          map[string]bool
	qids            []idRange
	severities      []idRange
	qdsMin, qdsMax  int
	vulnType        string // "", "confirmed", "potential"
	updatedSince    string // Qualys times, compared as text (they sort)
	updatedBefore   string
	processedAfter  string
	processedBefore string

	results, reopened, tags, qds, igs, assetID bool
	qdsFactors                                 bool
	ignored, disabled                          bool
}

func prepareDetections(s *Server, q *qreq) (bodyFunc, shape, *qerror) {
	p := q.p
	var f detFilter
	var e *qerror
	if f.hosts, e = parseHostFilter(s, q); e != nil {
		return nil, shape{}, e
	}
	if v := p.Get("output_format"); v != "" && v != "XML" {
		return nil, shape{}, badValue("output_format", v, "the qvt double serves XML only")
	}
	// Qualys' default leaves Fixed detections out.
	f.status = map[string]bool{"New": true, "Active": true, "Re-Opened": true}
	if v := p.Get("status"); v != "" {
		f.status = map[string]bool{}
		for st := range strings.SplitSeq(v, ",") {
			st = strings.TrimSpace(st)
			if !slices.Contains([]string{"New", "Active", "Re-Opened", "Fixed"}, st) {
				return nil, shape{}, badValue("status", v, "valid values are New, Active, Re-Opened, Fixed")
			}
			f.status[st] = true
		}
	}
	if f.qids, e = idList(p, "qids"); e != nil {
		return nil, shape{}, e
	}
	if f.severities, e = idList(p, "severities"); e != nil {
		return nil, shape{}, e
	}
	for _, r := range f.severities {
		if r.hi > 5 {
			return nil, shape{}, badValue("severities", p.Get("severities"), "severities are 1 to 5")
		}
	}
	f.qdsMin, f.qdsMax = 0, 100
	if n, ok, e := intParam(p, "qds_min", 1, 100); e != nil {
		return nil, shape{}, e
	} else if ok {
		f.qdsMin = int(n)
	}
	if n, ok, e := intParam(p, "qds_max", 1, 100); e != nil {
		return nil, shape{}, e
	} else if ok {
		f.qdsMax = int(n)
	}
	if e = oneOf(p, "include_vuln_type", "confirmed", "potential"); e != nil {
		return nil, shape{}, e
	}
	f.vulnType = p.Get("include_vuln_type")
	for _, d := range []struct {
		name string
		dst  *string
	}{
		{"detection_updated_since", &f.updatedSince},
		{"detection_updated_before", &f.updatedBefore},
		{"detection_processed_after", &f.processedAfter},
		{"detection_processed_before", &f.processedBefore},
	} {
		t, ok, e := dateParam(p, d.name)
		if e != nil {
			return nil, shape{}, e
		}
		if ok {
			*d.dst = qualysTime(t)
		}
	}
	for _, b := range []struct {
		name string
		def  bool
		dst  *bool
	}{
		{"show_results", true, &f.results},
		{"show_reopened_info", false, &f.reopened},
		{"show_tags", false, &f.tags},
		{"show_qds", false, &f.qds},
		{"show_igs", false, &f.igs},
		{"show_asset_id", false, &f.assetID},
		{"include_ignored", false, &f.ignored},
		{"include_disabled", false, &f.disabled},
		{"echo_request", false, new(bool)},
		{"show_qds_factors", false, &f.qdsFactors},
		{"suppress_duplicated_data_from_csv", false, new(bool)},
	} {
		if *b.dst, e = flag(p, b.name, b.def); e != nil {
			return nil, shape{}, e
		}
	}
	ids := f.hosts.candidates(q)
	return func(w io.Writer) error { return f.write(w, q, ids) },
		shape{recordEnds: []string{"</HOST>\n"}, tail: len(qualys.RootDetections) + 4}, nil
}

// write streams the page: the hosts left with detections after filtering
// (Qualys leaves the others out), up to the truncation limit. The host
// after a full page is generated to learn whether there is one, and its id
// is the next page's id_min.
func (f *detFilter) write(w io.Writer, q *qreq, ids []int64) error {
	hw := qualys.NewHostListDetectionWriter(w, q.datetime)
	n := 0
	var warn *qualys.Warning
	for _, id := range ids {
		h := q.d.Host(id, q.epoch)
		if h.ID == 0 || !f.keep(&h) {
			continue
		}
		if f.hosts.limit > 0 && n == f.hosts.limit {
			warn = truncationWarning(q, PathDetections, f.hosts.limit, id)
			break
		}
		if err := hw.Host(&h); err != nil {
			return err
		}
		n++
	}
	return hw.Close(warn)
}

// keep filters the host's detections in place, drops the parts not asked
// for, and reports whether any detection is left.
func (f *detFilter) keep(h *qualys.Host) bool {
	h.Detections = slices.DeleteFunc(h.Detections, func(x qualys.Detection) bool { return !f.match(&x) })
	if len(h.Detections) == 0 {
		return false
	}
	if !f.tags {
		h.Tags = nil
	}
	if !f.assetID {
		h.AssetID = 0
	}
	for i := range h.Detections {
		x := &h.Detections[i]
		if !f.results {
			x.Results = ""
		}
		if !f.reopened {
			x.FirstReopened, x.LastReopened, x.TimesReopened = "", "", 0
		}
		if !f.qds {
			x.QDS, x.QDSSeverity = 0, ""
		}
		if !f.qdsFactors {
			x.QDSFactors = nil
		}
	}
	return true
}

func (f *detFilter) match(x *qualys.Detection) bool {
	switch {
	case !f.status[x.Status],
		x.Type == "Info" && !f.igs,
		x.Ignored && !f.ignored,
		x.Disabled && !f.disabled,
		f.qids != nil && !inRanges(f.qids, int64(x.QID)),
		f.severities != nil && !inRanges(f.severities, int64(x.Severity)),
		f.vulnType == "confirmed" && x.Type != "Confirmed",
		f.vulnType == "potential" && x.Type != "Potential",
		f.updatedSince != "" && x.LastUpdate < f.updatedSince,
		f.updatedBefore != "" && x.LastUpdate >= f.updatedBefore,
		f.processedAfter != "" && x.LastProcessed < f.processedAfter,
		f.processedBefore != "" && x.LastProcessed >= f.processedBefore:
		return false
	}
	if (f.qdsMin > 0 || f.qdsMax < 100) && x.Type != "Info" && (x.QDS < f.qdsMin || x.QDS > f.qdsMax) {
		return false
	}
	return true
}
