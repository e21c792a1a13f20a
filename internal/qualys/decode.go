package qualys

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Root element names of the documents qvt reads.
const (
	RootKB         = "KNOWLEDGE_BASE_VULN_LIST_OUTPUT"
	RootDetections = "HOST_LIST_VM_DETECTION_OUTPUT"
	RootHostList   = "HOST_LIST_OUTPUT"
	RootError      = "SIMPLE_RETURN"
)

// RootElement returns the name of the root element of an XML document
// given its first bytes (after the prolog: declaration, comments,
// DOCTYPE), or "" when the bytes do not start an XML document.
func RootElement(prefix []byte) string {
	s := newScanner(bytes.NewReader(prefix))
	k, err := s.next()
	if err != nil || k != tokStart {
		return ""
	}
	return s.name
}

// WrongKindError reports a document that is well-formed XML of another kind.
type WrongKindError struct {
	Want, Got string
}

func (e *WrongKindError) Error() string {
	return fmt.Sprintf("not a %s document: its root element is <%s>", e.Want, shown([]byte(e.Got), 40))
}

// open reads the prolog and the root start tag. A SIMPLE_RETURN root is
// decoded and returned as an *APIError; another root is a WrongKindError.
func open(s *scanner, want string) error {
	k, err := s.next()
	if err != nil {
		return err
	}
	if k != tokStart {
		return s.errorf("no root element")
	}
	switch s.name {
	case want:
		return nil
	case RootError:
		apiErr, err := decodeSimpleReturn(s)
		if err != nil {
			return err
		}
		if apiErr == nil {
			return s.errorf("SIMPLE_RETURN without an error code")
		}
		return apiErr
	}
	return &WrongKindError{Want: want, Got: s.name}
}

// decodeList walks ROOT/(REQUEST?, RESPONSE/(DATETIME, LIST?, WARNING?))
// and calls item for each child of the element named list.
func decodeList(s *scanner, list string, item func() error) (Response, error) {
	var r *Response
	return decodeListResp(s, list, &r, item)
}

// decodeListResp is decodeList that also lets item see the response as
// decoded so far (its DATETIME) through *cur.
func decodeListResp(s *scanner, list string, cur **Response, item func() error) (Response, error) {
	var resp Response
	*cur = &resp
	if s.selfClose {
		return resp, s.finish()
	}
	for {
		ok, err := s.child(1)
		if err != nil || !ok {
			if err == nil {
				err = s.finish()
			}
			return resp, err
		}
		if s.name != "RESPONSE" {
			if err := s.skip(); err != nil {
				return resp, err
			}
			continue
		}
		for {
			ok, err := s.child(2)
			if err != nil {
				return resp, err
			}
			if !ok {
				break
			}
			switch s.name {
			case "DATETIME":
				if resp.Datetime, err = s.text(); err != nil {
					return resp, err
				}
			case list:
				for {
					ok, err := s.child(3)
					if err != nil {
						return resp, err
					}
					if !ok {
						break
					}
					if err := item(); err != nil {
						return resp, err
					}
				}
			case "WARNING":
				w, err := decodeWarning(s)
				if err != nil {
					return resp, err
				}
				resp.Warning = w
			default:
				if err := s.skip(); err != nil {
					return resp, err
				}
			}
		}
	}
}

func decodeWarning(s *scanner) (*Warning, error) {
	var w Warning
	d := len(s.stack)
	for {
		ok, err := s.child(d)
		if err != nil || !ok {
			return &w, err
		}
		switch s.name {
		case "CODE":
			w.Code, err = s.text()
		case "TEXT":
			w.Text, err = s.text()
		case "URL":
			w.URL, err = s.text()
		default:
			err = s.skip()
		}
		if err != nil {
			return nil, err
		}
	}
}

// int reads the text of the current element as an integer; empty text
// is 0.
func (s *scanner) int() (int64, error) {
	b, err := s.textBytes()
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, nil
	}
	// Fast path for the plain digits Qualys sends.
	if len(b) < 19 {
		var n int64
		ok := true
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, s.errorf("<%s> is not an integer: %q", shown([]byte(s.name), 40), abbreviate(b, 30))
	}
	return n, nil
}

// bool reads a 0/1 flag; empty text is false.
func (s *scanner) bool() (bool, error) {
	n, err := s.int()
	return n != 0, err
}

// trimmed reads the text of the current element without surrounding
// whitespace: for names, dates and codes, not for free text.
func (s *scanner) trimmed() (string, error) {
	b, err := s.textBytes()
	if err != nil {
		return "", err
	}
	if err := s.checkControls(b); err != nil {
		return "", err
	}
	b = bytes.TrimSpace(b)
	if err := s.keep(len(b)); err != nil {
		return "", err
	}
	return s.value(b), nil
}

// DecodeKB streams a KnowledgeBase response (KNOWLEDGE_BASE_VULN_LIST_OUTPUT)
// from r and calls fn for each VULN. A SIMPLE_RETURN body is returned as an
// *APIError. It reads under DefaultLimits.
func DecodeKB(r io.Reader, fn func(*Vuln) error) (Response, error) {
	return Limits{}.DecodeKB(r, fn)
}

// DecodeKB is DecodeKB under the limits l.
func (l Limits) DecodeKB(r io.Reader, fn func(*Vuln) error) (Response, error) {
	s := newScannerLimits(r, l)
	if err := open(s, RootKB); err != nil {
		return Response{}, err
	}
	return decodeList(s, "VULN_LIST", func() error {
		if s.name != "VULN" {
			return s.skip()
		}
		s.startRecord("qid")
		v := new(Vuln)
		if err := decodeVuln(s, v); err != nil {
			return err
		}
		if v.QID <= 0 {
			return s.errorf("VULN without a QID")
		}
		return fn(v)
	})
}

func decodeVuln(s *scanner, v *Vuln) error {
	d := len(s.stack)
	for {
		ok, err := s.child(d)
		if err != nil || !ok {
			return err
		}
		switch s.name {
		case "QID":
			var n int64
			n, err = s.int()
			v.QID = int(n)
			s.recID = n
		case "VULN_TYPE":
			v.VulnType, err = s.trimmed()
		case "SEVERITY_LEVEL":
			var n int64
			n, err = s.int()
			v.Severity = int(n)
		case "TITLE":
			v.Title, err = s.text()
		case "CATEGORY":
			v.Category, err = s.text()
		case "DETECTION_INFO":
			v.DetectionInfo, err = s.text()
		case "LAST_CUSTOMIZATION":
			err = s.fields(func(name string) (err error) {
				if name == "DATETIME" {
					v.LastCustomized, err = s.trimmed()
					return err
				}
				return s.skip()
			})
		case "LAST_SERVICE_MODIFICATION_DATETIME":
			v.LastModified, err = s.trimmed()
		case "PUBLISHED_DATETIME":
			v.Published, err = s.trimmed()
		case "PATCHABLE":
			v.Patchable, err = s.bool()
		case "DIAGNOSIS":
			v.Diagnosis, err = s.text()
		case "CONSEQUENCE":
			v.Consequence, err = s.text()
		case "SOLUTION":
			v.Solution, err = s.text()
		case "CVE_LIST":
			err = s.refs("CVE", func(r Ref) {
				if r.ID != "" {
					v.CVEs = append(v.CVEs, r.ID)
				}
			})
		case "VENDOR_REFERENCE_LIST":
			err = s.refs("VENDOR_REFERENCE", func(r Ref) {
				if r.ID != "" || r.URL != "" {
					v.VendorRefs = append(v.VendorRefs, r)
				}
			})
		case "BUGTRAQ_LIST":
			err = s.refs("BUGTRAQ", func(r Ref) {
				if r.ID != "" || r.URL != "" {
					v.Bugtraqs = append(v.Bugtraqs, r)
				}
			})
		case "SOFTWARE_LIST":
			err = s.list("SOFTWARE", func() error {
				var sw Software
				err := s.fields(func(name string) (err error) {
					switch name {
					case "PRODUCT":
						sw.Product, err = s.trimmed()
					case "VENDOR":
						sw.Vendor, err = s.trimmed()
					default:
						err = s.skip()
					}
					return err
				})
				if sw != (Software{}) {
					v.Software = append(v.Software, sw)
				}
				return err
			})
		case "CVSS":
			err = decodeCVSS(s, &v.CVSS)
		case "CVSS_V3":
			err = decodeCVSS(s, &v.CVSSv3)
		case "PCI_FLAG":
			v.PCIFlag, err = s.bool()
		case "THREAT_INTELLIGENCE":
			err = s.list("THREAT_INTEL", func() error {
				id := s.attr("id")
				txt, err := s.trimmed()
				v.ThreatIntel = append(v.ThreatIntel, ThreatIntel{ID: id, Text: txt})
				return err
			})
		case "CORRELATION":
			err = decodeCorrelation(s, v)
		case "SUPPORTED_MODULES":
			v.SupportedModules, err = s.trimmed()
		case "DISCOVERY":
			err = s.fields(func(name string) (err error) {
				switch name {
				case "REMOTE":
					v.Remote, err = s.bool()
				case "AUTH_TYPE_LIST":
					err = s.list("AUTH_TYPE", func() error {
						t, err := s.trimmed()
						if t != "" {
							v.AuthTypes = append(v.AuthTypes, t)
						}
						return err
					})
				case "ADDITIONAL_INFO":
					v.AdditionalInfo, err = s.trimmed()
				default:
					err = s.skip()
				}
				return err
			})
		case "IS_DISABLED":
			v.Disabled, err = s.bool()
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// fields calls fn for each child element of the current element.
func (s *scanner) fields(fn func(name string) error) error {
	if s.selfClose {
		return nil
	}
	d := len(s.stack)
	for {
		ok, err := s.child(d)
		if err != nil || !ok {
			return err
		}
		if err := fn(s.name); err != nil {
			return err
		}
	}
}

// list calls fn for each child named item of the current element and
// skips other children.
func (s *scanner) list(item string, fn func() error) error {
	return s.fields(func(name string) error {
		if name != item {
			return s.skip()
		}
		// An entry costs its struct and its share of the slice.
		if err := s.keep(512); err != nil {
			return err
		}
		return fn()
	})
}

// refs reads a list of (ID, URL) elements such as CVE_LIST/CVE.
func (s *scanner) refs(item string, fn func(Ref)) error {
	return s.list(item, func() error {
		var r Ref
		err := s.fields(func(name string) (err error) {
			switch name {
			case "ID":
				r.ID, err = s.trimmed()
			case "URL":
				r.URL, err = s.trimmed()
			default:
				err = s.skip()
			}
			return err
		})
		fn(r)
		return err
	})
}

func decodeCVSS(s *scanner, c *CVSS) error {
	return s.fields(func(name string) (err error) {
		switch name {
		case "BASE":
			c.Base, err = s.trimmed()
		case "TEMPORAL":
			c.Temporal, err = s.trimmed()
		case "VECTOR_STRING":
			c.Vector, err = s.trimmed()
		case "CVSS3_VERSION":
			c.Version, err = s.trimmed()
		case "IMPACT":
			err = s.fields(func(name string) (err error) {
				switch name {
				case "CONFIDENTIALITY":
					c.Impact.Confidentiality, err = s.trimmed()
				case "INTEGRITY":
					c.Impact.Integrity, err = s.trimmed()
				case "AVAILABILITY":
					c.Impact.Availability, err = s.trimmed()
				default:
					err = s.skip()
				}
				return err
			})
		default:
			err = s.skip()
		}
		return err
	})
}

// decodeCorrelation flattens CORRELATION/EXPLOITS/EXPLT_SRC/EXPLT_LIST/EXPLT
// and MALWARE/MW_SRC/MW_LIST/MW_INFO. Real data holds empty <EXPLT/>
// elements and sources without a list: they carry nothing and are dropped.
func decodeCorrelation(s *scanner, v *Vuln) error {
	return s.fields(func(name string) error {
		switch name {
		case "EXPLOITS":
			return s.list("EXPLT_SRC", func() error {
				var src string
				return s.fields(func(name string) (err error) {
					switch name {
					case "SRC_NAME":
						src, err = s.trimmed()
					case "EXPLT_LIST":
						err = s.list("EXPLT", func() error {
							e := Exploit{Source: src}
							err := s.fields(func(name string) (err error) {
								switch name {
								case "REF":
									e.Ref, err = s.trimmed()
								case "DESC":
									e.Desc, err = s.text()
								case "LINK":
									e.Link, err = s.trimmed()
								default:
									err = s.skip()
								}
								return err
							})
							if e.Ref != "" || e.Desc != "" || e.Link != "" {
								v.Exploits = append(v.Exploits, e)
							}
							return err
						})
					default:
						err = s.skip()
					}
					return err
				})
			})
		case "MALWARE":
			return s.list("MW_SRC", func() error {
				var src string
				return s.fields(func(name string) (err error) {
					switch name {
					case "SRC_NAME":
						src, err = s.trimmed()
					case "MW_LIST":
						err = s.list("MW_INFO", func() error {
							m := Malware{Source: src}
							err := s.fields(func(name string) (err error) {
								switch name {
								case "MW_ID":
									m.ID, err = s.trimmed()
								case "MW_TYPE":
									m.Type, err = s.trimmed()
								case "MW_PLATFORM":
									m.Platform, err = s.trimmed()
								case "MW_ALIAS":
									m.Alias, err = s.trimmed()
								case "MW_RATING":
									m.Rating, err = s.trimmed()
								case "MW_LINK":
									m.Link, err = s.trimmed()
								default:
									err = s.skip()
								}
								return err
							})
							if m.ID != "" || m.Link != "" {
								v.Malware = append(v.Malware, m)
							}
							return err
						})
					default:
						err = s.skip()
					}
					return err
				})
			})
		}
		return s.skip()
	})
}

// DecodeDetections streams a host list detection response
// (HOST_LIST_VM_DETECTION_OUTPUT) from r and calls fn for each HOST, with
// its detections. A SIMPLE_RETURN body is returned as an *APIError. The
// returned Response carries the WARNING that points at the next page.
func DecodeDetections(r io.Reader, fn func(*Host) error) (Response, error) {
	return DecodeDetectionsTimed(r, func(_ string, h *Host) error { return fn(h) })
}

// DecodeDetectionsTimed is DecodeDetections that also passes each host the
// response's DATETIME, which comes before the hosts: the time of the data.
// It reads under DefaultLimits.
func DecodeDetectionsTimed(r io.Reader, fn func(datetime string, h *Host) error) (Response, error) {
	return Limits{}.DecodeDetectionsTimed(r, fn)
}

// DecodeDetectionsTimed is DecodeDetectionsTimed under the limits l.
func (l Limits) DecodeDetectionsTimed(r io.Reader, fn func(datetime string, h *Host) error) (Response, error) {
	s := newScannerLimits(r, l)
	if err := open(s, RootDetections); err != nil {
		return Response{}, err
	}
	var resp *Response
	res, err := decodeListResp(s, "HOST_LIST", &resp, func() error {
		if s.name != "HOST" {
			return s.skip()
		}
		s.startRecord("host")
		h := new(Host)
		if err := decodeHost(s, h); err != nil {
			return err
		}
		if h.ID <= 0 {
			return s.errorf("HOST without an ID")
		}
		return fn(resp.Datetime, h)
	})
	return res, err
}

func decodeHost(s *scanner, h *Host) error {
	return s.fields(func(name string) (err error) {
		switch name {
		case "ID":
			h.ID, err = s.int()
			s.recID = h.ID
		case "ASSET_ID":
			h.AssetID, err = s.int()
		case "IP":
			h.IP, err = s.address("IP")
		case "IPV6":
			h.IPv6, err = s.address("IPV6")
		case "TRACKING_METHOD":
			h.TrackingMethod, err = s.trimmed()
		case "NETWORK_ID":
			h.NetworkID, err = s.trimmed()
		case "OS":
			h.OS, err = s.trimmed()
		case "OS_CPE":
			h.OSCPE, err = s.trimmed()
		case "DNS":
			h.DNS, err = s.trimmed()
		case "DNS_DATA":
			err = s.fields(func(name string) (err error) {
				switch name {
				case "HOSTNAME":
					h.DNSHostname, err = s.trimmed()
				case "DOMAIN":
					h.DNSDomain, err = s.trimmed()
				case "FQDN":
					h.FQDN, err = s.trimmed()
				default:
					err = s.skip()
				}
				return err
			})
		case "NETBIOS":
			h.NetBIOS, err = s.trimmed()
		case "QG_HOSTID":
			h.QGHostID, err = s.trimmed()
		case "LAST_SCAN_DATETIME":
			h.LastScan, err = s.trimmed()
		case "LAST_VM_SCANNED_DATE":
			h.LastVMScanned, err = s.trimmed()
		case "LAST_VM_SCANNED_DURATION":
			var n int64
			n, err = s.int()
			h.LastVMScannedDuration = int(n)
		case "LAST_VM_AUTH_SCANNED_DATE":
			h.LastVMAuthScanned, err = s.trimmed()
		case "LAST_PC_SCANNED_DATE":
			h.LastPCScanned, err = s.trimmed()
		case "TAGS":
			err = s.list("TAG", func() error {
				var t Tag
				err := s.fields(func(name string) (err error) {
					switch name {
					case "TAG_ID":
						t.ID, err = s.int()
					case "NAME":
						t.Name, err = s.trimmed()
					default:
						err = s.skip()
					}
					return err
				})
				if t.Name != "" || t.ID != 0 {
					h.Tags = append(h.Tags, t)
				}
				return err
			})
		case "DETECTION_LIST":
			// Decoded into a slice reused from host to host, then copied
			// into one of the right size: growing each host's slice from
			// empty allocated and cleared three times the memory.
			dets := s.dets[:0]
			err = s.list("DETECTION", func() error {
				dets = append(dets, Detection{})
				err := decodeDetection(s, &dets[len(dets)-1])
				s.detQID = 0
				return err
			})
			h.Detections = append(h.Detections, dets...)
			clear(dets) // let go of this host's strings
			s.dets = dets
		default:
			err = s.skip()
		}
		return err
	})
}

func decodeDetection(s *scanner, d *Detection) error {
	return s.fields(func(name string) (err error) {
		var n int64
		switch name {
		case "UNIQUE_VULN_ID":
			d.UniqueVulnID, err = s.int()
		case "QID":
			n, err = s.int()
			d.QID = int(n)
			s.detQID = n
		case "TYPE":
			at := s.offset()
			if d.Type, err = s.trimmed(); err == nil {
				switch d.Type {
				case "", "Confirmed", "Potential", "Info":
				default:
					err = s.errorAt(at, "TYPE %q is not Confirmed, Potential or Info", abbreviate([]byte(d.Type), 40))
				}
			}
		case "SEVERITY":
			n, err = s.int()
			d.Severity = int(n)
		case "PORT":
			at := s.offset()
			if n, err = s.int(); err == nil && (n < 0 || n > 65535) {
				err = s.errorAt(at, "PORT %d is not a port (0-65535)", n)
			}
			d.Port = int(n)
		case "PROTOCOL":
			d.Protocol, err = s.trimmed()
		case "FQDN":
			d.FQDN, err = s.trimmed()
		case "SSL":
			d.SSL, err = s.bool()
		case "INSTANCE":
			d.Instance, err = s.trimmed()
		case "RESULTS":
			d.Results, err = s.text()
		case "STATUS":
			at := s.offset()
			if d.Status, err = s.trimmed(); err == nil {
				switch d.Status {
				case "", "New", "Active", "Re-Opened", "Fixed":
				default:
					err = s.errorAt(at, "STATUS %q is not New, Active, Re-Opened or Fixed", abbreviate([]byte(d.Status), 40))
				}
			}
		case "FIRST_FOUND_DATETIME":
			d.FirstFound, err = s.trimmed()
		case "LAST_FOUND_DATETIME":
			d.LastFound, err = s.trimmed()
		case "TIMES_FOUND":
			n, err = s.int()
			d.TimesFound = int(n)
		case "LAST_TEST_DATETIME":
			d.LastTest, err = s.trimmed()
		case "LAST_UPDATE_DATETIME":
			d.LastUpdate, err = s.trimmed()
		case "LAST_FIXED_DATETIME":
			d.LastFixed, err = s.trimmed()
		case "FIRST_REOPENED_DATETIME":
			d.FirstReopened, err = s.trimmed()
		case "LAST_REOPENED_DATETIME":
			d.LastReopened, err = s.trimmed()
		case "TIMES_REOPENED":
			n, err = s.int()
			d.TimesReopened = int(n)
		case "QDS":
			d.QDSSeverity = s.attr("severity")
			n, err = s.int()
			d.QDS = int(n)
		case "QDS_FACTORS":
			err = s.list("QDS_FACTOR", func() error {
				if len(d.QDSFactors) >= s.lim.QDSFactors {
					return s.errorf("more than %d QDS_FACTOR elements (limit qds factors)", s.lim.QDSFactors)
				}
				name := attrUnescaper.Replace(s.attr("name"))
				v, err := s.trimmed()
				if err == nil && name != "" { // a factor without a name cannot be looked up
					d.QDSFactors = append(d.QDSFactors, QDSFactor{Name: name, Value: v})
				}
				return err
			})
		case "SERVICE":
			d.Service, err = s.trimmed()
		case "IS_IGNORED":
			d.Ignored, err = s.bool()
		case "IS_DISABLED":
			d.Disabled, err = s.bool()
		case "LAST_PROCESSED_DATETIME":
			d.LastProcessed, err = s.trimmed()
		default:
			err = s.skip()
		}
		return err
	})
}

// attrUnescaper decodes the predefined entities in an attribute value
// (the encoder writes a factor's name escaped).
var attrUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'")

// address reads an IP address field; empty is allowed.
func (s *scanner) address(field string) (string, error) {
	at := s.offset()
	a, err := s.trimmed()
	if err != nil || a == "" {
		return a, err
	}
	if _, perr := netip.ParseAddr(a); perr != nil {
		return "", s.errorAt(at, "%s %q is not an IP address", field, abbreviate([]byte(a), 40))
	}
	return a, nil
}

// startRecord begins a record of the given kind ("host", "qid"): its
// memory is counted from zero and errors name it once its id is read.
func (s *scanner) startRecord(kind string) {
	s.recKind, s.recID, s.detQID, s.kept = kind, 0, 0, 0
}

// APIError is a Qualys SIMPLE_RETURN error: a code, its text and, for
// limit errors, items such as CALLS_TO_FINISH or SECONDS_TO_WAIT.
type APIError struct {
	Code     int
	Text     string
	Datetime string
	Items    map[string]string
}

func (e *APIError) Error() string {
	// The text comes from the server: keep the message one short line.
	return fmt.Sprintf("Qualys error %d: %s", e.Code, shown([]byte(e.Text), 200))
}

// DecodeSimpleReturn decodes a SIMPLE_RETURN document. It returns the
// *APIError it carries (nil if the document has no code), or a decoding
// error.
func DecodeSimpleReturn(r io.Reader) (*APIError, error) {
	s := newScanner(r)
	k, err := s.next()
	if err != nil {
		return nil, err
	}
	if k != tokStart || s.name != RootError {
		return nil, &WrongKindError{Want: RootError, Got: s.name}
	}
	return decodeSimpleReturn(s)
}

func decodeSimpleReturn(s *scanner) (*APIError, error) {
	e := &APIError{}
	err := s.fields(func(name string) error {
		if name != "RESPONSE" {
			return s.skip()
		}
		return s.fields(func(name string) (err error) {
			switch name {
			case "DATETIME":
				e.Datetime, err = s.trimmed()
			case "CODE":
				var n int64
				n, err = s.int()
				e.Code = int(n)
			case "TEXT":
				e.Text, err = s.trimmed()
			case "ITEM_LIST":
				err = s.list("ITEM", func() error {
					var k, v string
					err := s.fields(func(name string) (err error) {
						switch name {
						case "KEY":
							k, err = s.trimmed()
						case "VALUE":
							v, err = s.trimmed()
						default:
							err = s.skip()
						}
						return err
					})
					if k != "" {
						if e.Items == nil {
							e.Items = map[string]string{}
						}
						e.Items[k] = v
					}
					return err
				})
			default:
				err = s.skip()
			}
			return err
		})
	})
	if err == nil {
		err = s.finish()
	}
	if err != nil {
		return nil, err
	}
	if e.Code == 0 && e.Text == "" {
		return nil, nil
	}
	return e, nil
}
