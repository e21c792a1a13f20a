package store

import (
	"fmt"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"qvt/internal/jsonenc"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
)

// A row is rewritten only when its content hash changes: re-importing the
// same KB or NVD data writes nothing and queues no rescoring.
const upsertVuln = `INSERT INTO kb_vulns (qid, vuln_type, severity, title, category, detection_info,
 last_customized, last_modified, published, patchable, diagnosis, consequence, solution,
 cvss_base, cvss_temporal, cvss_vector, cvss_impact_c, cvss_impact_i, cvss_impact_a,
 cvss3_base, cvss3_temporal, cvss3_vector, cvss3_version, cvss3_impact_c, cvss3_impact_i, cvss3_impact_a,
 pci_flag, supported_modules, remote, auth_types, additional_info, disabled,
 vendor_refs, bugtraqs, software, threat_intel, exploits, malware, cves, hash)
VALUES (?,?,?,?,?,?, ?,?,?,?,?,?,?, ?,?,?,?,?,?, ?,?,?,?,?,?,?, ?,?,?,?,?,?, ?,?,?,?,?,?,?,?)
ON CONFLICT (qid) DO UPDATE SET vuln_type = excluded.vuln_type, severity = excluded.severity,
 title = excluded.title, category = excluded.category, detection_info = excluded.detection_info,
 last_customized = excluded.last_customized, last_modified = excluded.last_modified,
 published = excluded.published, patchable = excluded.patchable, diagnosis = excluded.diagnosis,
 consequence = excluded.consequence, solution = excluded.solution,
 cvss_base = excluded.cvss_base, cvss_temporal = excluded.cvss_temporal, cvss_vector = excluded.cvss_vector,
 cvss_impact_c = excluded.cvss_impact_c, cvss_impact_i = excluded.cvss_impact_i, cvss_impact_a = excluded.cvss_impact_a,
 cvss3_base = excluded.cvss3_base, cvss3_temporal = excluded.cvss3_temporal, cvss3_vector = excluded.cvss3_vector,
 cvss3_version = excluded.cvss3_version, cvss3_impact_c = excluded.cvss3_impact_c,
 cvss3_impact_i = excluded.cvss3_impact_i, cvss3_impact_a = excluded.cvss3_impact_a,
 pci_flag = excluded.pci_flag, supported_modules = excluded.supported_modules, remote = excluded.remote,
 auth_types = excluded.auth_types, additional_info = excluded.additional_info, disabled = excluded.disabled,
 vendor_refs = excluded.vendor_refs, bugtraqs = excluded.bugtraqs, software = excluded.software,
 threat_intel = excluded.threat_intel, exploits = excluded.exploits, malware = excluded.malware,
 cves = excluded.cves, hash = excluded.hash
WHERE kb_vulns.hash <> excluded.hash`

// PutVulns upserts KB entries. Entries whose content changed get their CVE
// list rewritten and are queued for rescoring.
func (tx *Tx) PutVulns(vs []*qualys.Vuln) error {
	if tx.pg != nil {
		return tx.pgPutVulns(vs)
	}
	up, err := tx.bind(upsertVuln)
	if err != nil {
		return err
	}
	for _, v := range vs {
		tx.Stats.Vulns++
		j := jsonVuln(v)
		up.int(int64(v.QID))
		up.text(v.VulnType)
		up.int(int64(v.Severity))
		up.text(v.Title)
		up.text(v.Category)
		up.text(v.DetectionInfo)
		up.text(v.LastCustomized)
		up.text(v.LastModified)
		up.text(v.Published)
		up.bool(v.Patchable)
		up.text(v.Diagnosis)
		up.text(v.Consequence)
		up.text(v.Solution)
		for _, c := range []*qualys.CVSS{&v.CVSS, &v.CVSSv3} {
			up.text(c.Base)
			up.text(c.Temporal)
			up.text(c.Vector)
			if c == &v.CVSSv3 {
				up.text(c.Version)
			}
			up.text(c.Impact.Confidentiality)
			up.text(c.Impact.Integrity)
			up.text(c.Impact.Availability)
		}
		up.bool(v.PCIFlag)
		up.text(v.SupportedModules)
		up.bool(v.Remote)
		up.text(j.authTypes)
		up.text(v.AdditionalInfo)
		up.bool(v.Disabled)
		up.text(j.vendorRefs)
		up.text(j.bugtraqs)
		up.text(j.software)
		up.text(j.threatIntel)
		up.text(j.exploits)
		up.text(j.malware)
		up.text(jsonStrings(v.CVEs))
		up.int(int64(hashVuln(v)))
		if err := up.run(); err != nil {
			return fmt.Errorf("store: qid %d: %w", v.QID, err)
		}
		if tx.changes() == 0 {
			continue
		}
		tx.Stats.VulnsChanged++
		if err := tx.putVulnCVEs(v); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) putVulnCVEs(v *qualys.Vuln) error {
	del, err := tx.bind("DELETE FROM kb_cves WHERE qid = ?")
	if err != nil {
		return err
	}
	del.int(int64(v.QID))
	if err := del.run(); err != nil {
		return err
	}
	ins, err := tx.bind("INSERT INTO kb_cves (qid, ord, cve_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	for i, id := range v.CVEs {
		ins.int(int64(v.QID))
		ins.int(int64(i))
		ins.text(id)
		if err := ins.run(); err != nil {
			return err
		}
	}
	return tx.queue(int64(v.QID))
}

// queue marks a QID for rescoring.
func (tx *Tx) queue(qid int64) error {
	b, err := tx.bind("INSERT INTO rescore_queue (qid) VALUES (?) ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	b.int(qid)
	return b.run()
}

const upsertCVE = `INSERT INTO nvd_cves (id, source_identifier, published, last_modified, status,
 description, cwes, kev_added, kev_due, kev_action, kev_name, hash)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (id) DO UPDATE SET source_identifier = excluded.source_identifier,
 published = excluded.published, last_modified = excluded.last_modified, status = excluded.status,
 description = excluded.description, cwes = excluded.cwes, kev_added = excluded.kev_added,
 kev_due = excluded.kev_due, kev_action = excluded.kev_action, kev_name = excluded.kev_name,
 hash = excluded.hash
WHERE nvd_cves.hash <> excluded.hash`

// PutCVEs upserts NVD records. A changed record gets its metrics rewritten
// and queues for rescoring every QID that lists it.
func (tx *Tx) PutCVEs(cs []*nvd.CVE) error {
	if tx.pg != nil {
		return tx.pgPutCVEs(cs)
	}
	up, err := tx.bind(upsertCVE)
	if err != nil {
		return err
	}
	for _, c := range cs {
		tx.Stats.CVEs++
		up.text(c.ID)
		up.text(c.SourceIdentifier)
		up.text(c.Published)
		up.text(c.LastModified)
		up.text(c.Status)
		up.text(c.Description)
		up.text(jsonStrings(c.CWEs))
		if k := c.KEV; k != nil {
			up.text(k.Added)
			up.text(k.Due)
			up.text(k.RequiredAction)
			up.text(k.Name)
		} else {
			for range 4 {
				up.text("")
			}
		}
		up.int(int64(hashCVE(c)))
		if err := up.run(); err != nil {
			return fmt.Errorf("store: %s: %w", c.ID, err)
		}
		if tx.changes() == 0 {
			continue
		}
		tx.Stats.CVEsChanged++
		if err := tx.putMetrics(c); err != nil {
			return fmt.Errorf("store: %s: %w", c.ID, err)
		}
	}
	return nil
}

func (tx *Tx) putMetrics(c *nvd.CVE) error {
	del, err := tx.bind("DELETE FROM nvd_metrics WHERE cve_id = ?")
	if err != nil {
		return err
	}
	del.text(c.ID)
	if err := del.run(); err != nil {
		return err
	}
	ins, err := tx.bind("INSERT INTO nvd_metrics (cve_id, ord, version, source, type, vector, base_score, severity) VALUES (?,?,?,?,?,?,?,?)")
	if err != nil {
		return err
	}
	for i, m := range c.Metrics {
		ins.text(c.ID)
		ins.int(int64(i))
		ins.text(m.Version)
		ins.text(m.Source)
		ins.text(m.Type)
		ins.text(m.Vector)
		ins.float(m.BaseScore)
		ins.text(m.Severity)
		if err := ins.run(); err != nil {
			return err
		}
	}
	q, err := tx.bind("INSERT INTO rescore_queue (qid) SELECT qid FROM kb_cves WHERE cve_id = ? ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	q.text(c.ID)
	return q.run()
}

// hashVuln hashes every stored field of a KB entry.
func hashVuln(v *qualys.Vuln) uint64 {
	var h hasher
	h.d.Reset()
	h.int(int64(v.QID))
	h.str(v.VulnType)
	h.int(int64(v.Severity))
	h.str(v.Title)
	h.str(v.Category)
	h.str(v.DetectionInfo)
	h.str(v.LastCustomized)
	h.str(v.LastModified)
	h.str(v.Published)
	h.bool(v.Patchable)
	h.str(v.Diagnosis)
	h.str(v.Consequence)
	h.str(v.Solution)
	h.strs(v.CVEs)
	for _, r := range v.VendorRefs {
		h.str(r.ID)
		h.str(r.URL)
	}
	h.sep()
	for _, r := range v.Bugtraqs {
		h.str(r.ID)
		h.str(r.URL)
	}
	h.sep()
	for _, s := range v.Software {
		h.str(s.Product)
		h.str(s.Vendor)
	}
	h.sep()
	for _, c := range []qualys.CVSS{v.CVSS, v.CVSSv3} {
		h.str(c.Base)
		h.str(c.Temporal)
		h.str(c.Vector)
		h.str(c.Version)
		h.str(c.Impact.Confidentiality)
		h.str(c.Impact.Integrity)
		h.str(c.Impact.Availability)
	}
	h.bool(v.PCIFlag)
	for _, t := range v.ThreatIntel {
		h.str(t.ID)
		h.str(t.Text)
	}
	h.sep()
	for _, e := range v.Exploits {
		h.str(e.Source)
		h.str(e.Ref)
		h.str(e.Desc)
		h.str(e.Link)
	}
	h.sep()
	for _, m := range v.Malware {
		h.strs([]string{m.Source, m.ID, m.Type, m.Platform, m.Alias, m.Rating, m.Link})
	}
	h.sep()
	h.str(v.SupportedModules)
	h.bool(v.Remote)
	h.strs(v.AuthTypes)
	h.str(v.AdditionalInfo)
	h.bool(v.Disabled)
	return h.sum()
}

// hashCVE hashes every stored field of an NVD record.
func hashCVE(c *nvd.CVE) uint64 {
	var h hasher
	h.d.Reset()
	h.str(c.ID)
	h.str(c.SourceIdentifier)
	h.str(c.Published)
	h.str(c.LastModified)
	h.str(c.Status)
	h.str(c.Description)
	h.strs(c.CWEs)
	if k := c.KEV; k != nil {
		h.strs([]string{k.Added, k.Due, k.RequiredAction, k.Name})
	}
	h.sep()
	for _, m := range c.Metrics {
		h.strs([]string{m.Version, m.Source, m.Type, m.Vector, m.Severity})
		h.int(int64(m.BaseScore * 10))
	}
	return h.sum()
}

// hasher feeds fields to xxhash, each followed by a separator byte that
// cannot occur in text, so ("ab","c") and ("a","bc") differ.
type hasher struct{ d xxhash.Digest }

func (h *hasher) str(s string) {
	h.d.WriteString(s)
	h.sep()
}

func (h *hasher) strs(ss []string) {
	for _, s := range ss {
		h.str(s)
	}
	h.sep()
}

func (h *hasher) int(n int64) {
	var b [20]byte
	h.d.Write(strconv.AppendInt(b[:0], n, 10))
	h.sep()
}

func (h *hasher) bool(v bool) {
	if v {
		h.d.Write([]byte{1})
	} else {
		h.d.Write([]byte{0})
	}
	h.sep()
}

func (h *hasher) sep() { h.d.Write([]byte{0xff}) }

// sum is the hash as a value SQLite stores as a signed 64-bit integer.
func (h *hasher) sum() uint64 { return h.d.Sum64() }

// vulnJSON holds the list columns of a KB entry, as JSON arrays.
type vulnJSON struct {
	authTypes, vendorRefs, bugtraqs, software, threatIntel, exploits, malware string
}

func jsonVuln(v *qualys.Vuln) vulnJSON {
	refs := func(rs []qualys.Ref) string {
		if len(rs) == 0 {
			return "[]"
		}
		return jsonObjects(len(rs), func(i int, o *jsonenc.Object) {
			o.Field("id", rs[i].ID)
			o.Field("url", rs[i].URL)
		})
	}
	return vulnJSON{
		authTypes:  jsonStrings(v.AuthTypes),
		vendorRefs: refs(v.VendorRefs),
		bugtraqs:   refs(v.Bugtraqs),
		software: jsonObjects(len(v.Software), func(i int, o *jsonenc.Object) {
			o.Field("product", v.Software[i].Product)
			o.Field("vendor", v.Software[i].Vendor)
		}),
		threatIntel: jsonObjects(len(v.ThreatIntel), func(i int, o *jsonenc.Object) {
			o.Field("id", v.ThreatIntel[i].ID)
			o.Field("text", v.ThreatIntel[i].Text)
		}),
		exploits: jsonObjects(len(v.Exploits), func(i int, o *jsonenc.Object) {
			e := v.Exploits[i]
			o.Field("source", e.Source)
			o.Field("ref", e.Ref)
			o.Field("desc", e.Desc)
			o.Field("link", e.Link)
		}),
		malware: jsonObjects(len(v.Malware), func(i int, o *jsonenc.Object) {
			m := v.Malware[i]
			o.Field("source", m.Source)
			o.Field("id", m.ID)
			o.Field("type", m.Type)
			o.Field("platform", m.Platform)
			o.Field("alias", m.Alias)
			o.Field("rating", m.Rating)
			o.Field("link", m.Link)
		}),
	}
}

func jsonStrings(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	return string(jsonenc.Strings(nil, ss))
}

func jsonObjects(n int, field func(i int, o *jsonenc.Object)) string {
	if n == 0 {
		return "[]"
	}
	b := []byte{'['}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		var o jsonenc.Object
		field(i, &o)
		b = append(b, o.Close()...)
	}
	return string(append(b, ']'))
}
