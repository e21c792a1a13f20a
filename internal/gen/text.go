package gen

import (
	"strconv"
	"strings"
)

// subject is what a KB entry is about; its texts, title and references
// are all written from it.
type subject struct {
	style    style
	prod     product // zero for distro packages and generic checks
	pkg      string  // distro package
	distro   *distro
	release  string
	class    string
	comp     string
	year     int
	month    string
	advisory string // vendor reference id
	advURL   string
	kbs      []string // Microsoft KB articles
	affected string   // first affected version
	fixed    string   // first fixed version
}

// ver is a three-part version number.
type ver struct{ major, minor, patch int }

func newVer(r *rnd) ver { return ver{r.between(1, 12), r.between(0, 30), r.between(0, 99)} }

// later returns a version after v: same major and minor, later patch.
func (v ver) later(r *rnd) ver { v.patch += r.between(1, 20); return v }

func (v ver) append(b []byte) []byte {
	b = strconv.AppendInt(b, int64(v.major), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v.minor), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(v.patch), 10)
}

func (v ver) String() string {
	var buf [16]byte
	return string(v.append(buf[:0]))
}

func version(r *rnd) string { return newVer(r).String() }

// laterVersion returns a version after v (same major, later minor/patch).
func laterVersion(r *rnd, v string) string {
	i := strings.LastIndexByte(v, '.')
	p, _ := strconv.Atoi(v[i+1:])
	return v[:i+1] + strconv.Itoa(p+r.between(1, 20))
}

func productsFor(s style) []product {
	switch s {
	case styleWeb, styleWAS:
		return webProducts
	case styleDNS:
		return dnsProducts
	case styleDB:
		return dbProducts
	case styleFTP:
		return ftpProducts
	case styleTLS, styleTCP:
		return remoteProducts
	case styleSNMP:
		return snmpProducts
	case styleSMB:
		return smbProducts
	case styleMail:
		return mailProducts
	case styleWindows, stylePolicy:
		return windowsProducts
	case styleOffice:
		return officeProducts
	case styleVMware:
		return vmwareProducts
	case styleCisco:
		return ciscoProducts
	}
	return localProducts
}

// newSubject draws a KB entry's subject. Its product (or package) comes
// from the head's pick, so that detections of the QID name the same one.
func newSubject(r *rnd, h *vulnHead) subject {
	f, published := h.fam, h.published
	s := subject{style: f.style, distro: f.distro, year: yearOf(published)}
	_, m, _ := civil(published / day)
	s.month = months[m-1]
	s.class = pick(r, vulnClasses)
	s.comp = pick(r, components)
	s.affected = version(r)
	s.fixed = laterVersion(r, s.affected)
	switch {
	case f.distro != nil:
		s.pkg = h.pkg()
		s.release = pick(r, f.distro.release)
		s.advisory = f.distro.advisory(r, s.year)
		s.advURL = f.distro.url(s.advisory)
	case f.style == styleIG:
	default:
		s.prod = h.product()
		if f.style == styleWindows || f.style == styleOffice {
			for range r.between(1, 4) {
				s.kbs = append(s.kbs, "KB"+strconv.Itoa(r.between(4010000, 5049999)))
			}
			s.advisory = s.kbs[0]
			s.advURL = "https://support.microsoft.com/help/" + s.kbs[0][2:]
		} else {
			s.advisory = s.prod.display + " Security Advisory " + strconv.Itoa(s.year) + "-" + strconv.Itoa(r.between(1, 99))
			s.advURL = "https://www." + strings.ReplaceAll(s.prod.vendor, "_", "") + ".com/security/advisories/" +
				strconv.Itoa(s.year) + "/" + strconv.Itoa(r.between(100, 99999))
		}
	}
	return s
}

func (s *subject) name() string {
	if s.pkg != "" {
		return s.pkg
	}
	return s.prod.display
}

func (s *subject) title(r *rnd) string {
	switch s.style {
	case styleIG:
		return pick(r, igTitles)
	case styleDistro:
		return s.distro.title + " " + s.pkg + " (" + s.advisory + ")"
	case styleWindows:
		if r.chance(0.5) {
			return "Microsoft Windows Security Update for " + s.month + " " + strconv.Itoa(s.year)
		}
		return "Microsoft " + strings.TrimPrefix(s.prod.display, "Microsoft ") + " " + s.class + " Vulnerability"
	case styleOffice:
		if r.chance(0.5) {
			return "Microsoft Office and Microsoft Office Services Security Update for " + s.month + " " + strconv.Itoa(s.year)
		}
		return s.prod.display + " " + s.class + " Vulnerability (" + s.advisory + ")"
	case stylePolicy:
		t := pick(r, policyTitles)
		return strings.Replace(t, "%s", s.prod.display, 1)
	case styleTCP:
		return pick(r, tcpTitles)
	case styleWAS:
		return pick(r, wasTitles)
	case styleTLS:
		if r.chance(0.5) {
			return pick(r, tlsTitles)
		}
	}
	switch r.intn(3) {
	case 0:
		return s.prod.display + " " + s.class + " Vulnerability"
	case 1:
		return s.prod.display + " Multiple Vulnerabilities (" + s.advisory + ")"
	}
	return s.prod.display + " Prior to " + s.fixed + " " + s.class + " Vulnerability"
}

// Texts are HTML as Qualys writes it: <P> between paragraphs, <BR> line
// breaks, <A HREF> links, entities such as &quot; left escaped.

func link(b []byte, url, text string) []byte {
	b = append(b, `<A HREF="`...)
	b = append(b, url...)
	b = append(b, `" TARGET="_blank">`...)
	b = append(b, text...)
	return append(b, "</A>"...)
}

func lower(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// sentence appends one descriptive sentence about a weakness.
func sentence(b []byte, r *rnd, s *subject, class string) []byte {
	switch r.intn(4) {
	case 0:
		b = append(b, "A "...)
		b = append(b, lower(class)...)
		b = append(b, " vulnerability exists in the "...)
		b = append(b, pick(r, components)...)
		b = append(b, " of "...)
		b = append(b, s.name()...)
		b = append(b, ". The vulnerability is due to "...)
		b = append(b, pick(r, causes)...)
	case 1:
		b = append(b, pick(r, attackers)...)
		b = append(b, " could exploit this vulnerability by "...)
		b = append(b, pick(r, attackVectors)...)
		b = append(b, " in order to "...)
		b = append(b, pick(r, impacts)...)
	case 2:
		b = append(b, s.name()...)
		b = append(b, " is prone to a "...)
		b = append(b, lower(class)...)
		b = append(b, " vulnerability because of "...)
		b = append(b, pick(r, causes)...)
	default:
		b = append(b, "The issue exists in the way "...)
		b = append(b, s.name()...)
		b = append(b, " handles the "...)
		b = append(b, pick(r, components)...)
		b = append(b, "; "...)
		b = append(b, lower(pick(r, attackers))...)
		b = append(b, " could "...)
		b = append(b, pick(r, impacts)...)
	}
	return append(b, '.')
}

func (s *subject) diagnosis(r *rnd, cves []string) string {
	b := make([]byte, 0, 2048)
	switch s.style {
	case styleIG:
		b = append(b, "The information collected by this check on the target host is displayed in the RESULTS section."...)
		if r.chance(0.5) {
			b = append(b, " It is gathered from the responses of the services found during the scan and from the host's configuration when the scan is authenticated."...)
		}
		return string(b)
	case styleDistro:
		b = append(b, s.distro.name...)
		b = append(b, " has released a security update for "...)
		b = append(b, s.pkg...)
		b = append(b, " to fix the vulnerabilities.<P>\n"...)
		for _, c := range cves {
			if c == "" {
				continue
			}
			b = append(b, c...)
			b = append(b, ": "...)
			b = sentence(b, r, s, pick(r, vulnClasses))
			b = append(b, "<BR>\n"...)
		}
		b = append(b, "<P>Affected Package versions prior to "...)
		b = append(b, s.fixed...)
		b = append(b, ".<P>\nAffected Products:<BR>\n"...)
		for _, rel := range s.distro.release[:r.between(1, len(s.distro.release))] {
			b = append(b, s.distro.name...)
			b = append(b, ' ')
			b = append(b, rel...)
			b = append(b, "<BR>\n"...)
		}
	case styleWindows, styleOffice:
		b = append(b, "Microsoft releases the security update for "...)
		b = append(b, s.month...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(s.year), 10)
		b = append(b, ". This security update is rated "...)
		b = append(b, pick(r, []string{"Critical", "Important", "Moderate"})...)
		b = append(b, " for supported releases.<P>\nThe KB Articles associated with the update:<BR>\n"...)
		for _, kb := range s.kbs {
			b = append(b, kb...)
			b = append(b, "<BR>\n"...)
		}
		b = append(b, "<P>"...)
		b = sentence(b, r, s, s.class)
		b = append(b, ' ')
		b = sentence(b, r, s, s.class)
	default:
		b = sentence(b, r, s, s.class)
		b = append(b, ' ')
		b = sentence(b, r, s, s.class)
		if r.chance(0.6) {
			b = append(b, ' ')
			b = sentence(b, r, s, pick(r, vulnClasses))
		}
		b = append(b, "<P>\nAffected Versions:<BR>\n"...)
		b = append(b, s.prod.display...)
		b = append(b, " versions "...)
		b = append(b, s.affected...)
		b = append(b, " through "...)
		b = append(b, s.fixed[:strings.LastIndexByte(s.fixed, '.')]...)
		b = append(b, ".x prior to "...)
		b = append(b, s.fixed...)
		b = append(b, "<BR>\n"...)
	}
	if r.chance(0.3) {
		b = append(b, "<P>\nNote: The &quot;"...)
		b = append(b, s.comp...)
		b = append(b, "&quot; must be enabled for the system to be exposed. "...)
		b = append(b, "For more details, refer to "...)
		b = link(b, s.advURL, s.advisory)
		b = append(b, '.')
	}
	b = append(b, "<P>\nQID Detection Logic ("...)
	if s.style.local() {
		b = append(b, "Authenticated):<BR>\nThis QID checks for the vulnerable version of "...)
		b = append(b, s.name()...)
		b = append(b, pick(r, []string{
			" by comparing the installed package version with the fixed version.",
			" by checking the file version of %windir%\\System32\\ntoskrnl.exe.",
			" using the output of the <B>rpm -q</B> or <B>dpkg -l</B> command.",
			" by reading the DisplayVersion value under HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall.",
		})...)
	} else {
		b = append(b, "Unauthenticated):<BR>\nThis QID checks the version in the banner returned by "...)
		b = append(b, s.name()...)
		b = append(b, " and reports hosts running a version prior to "...)
		b = append(b, s.fixed...)
		b = append(b, '.')
	}
	return string(b)
}

func (s *subject) consequence(r *rnd) string {
	if s.style == styleIG {
		return pick(r, []string{"Not applicable.", "N/A", "Some of this information may be useful to an attacker for reconnaissance."})
	}
	b := make([]byte, 0, 256)
	b = append(b, "Successful exploitation of this vulnerability could allow "...)
	b = append(b, lower(pick(r, attackers))...)
	b = append(b, " to "...)
	b = append(b, pick(r, impacts)...)
	b = append(b, '.')
	if r.chance(0.5) {
		b = append(b, "<P>\nThis may result in "...)
		b = append(b, pick(r, outcomes)...)
		b = append(b, '.')
	}
	return string(b)
}

func (s *subject) solution(r *rnd) string {
	b := make([]byte, 0, 1024)
	switch s.style {
	case styleIG:
		return "Not applicable."
	case styleDistro:
		b = append(b, "Refer to "...)
		b = append(b, s.distro.name...)
		b = append(b, " security advisory "...)
		b = link(b, s.advURL, s.advisory)
		b = append(b, " to address this issue and obtain further details.<P>\nPatch:<BR>\nFollowing are links for downloading patches to fix the vulnerabilities:<P>"...)
		for _, rel := range s.distro.release[:r.between(1, len(s.distro.release))] {
			b = append(b, ' ')
			b = link(b, s.advURL, s.advisory+": "+s.distro.name+" "+rel+" ("+s.pkg+")")
			b = append(b, "<BR>"...)
		}
		return string(b)
	case styleWindows, styleOffice:
		b = append(b, "Customers are advised to refer to the "...)
		b = link(b, "https://msrc.microsoft.com/update-guide/", "Security Update Guide")
		b = append(b, " for more information pertaining to this vulnerability.<P>\nPatch:<BR>\nFollowing are links for downloading patches to fix the vulnerabilities:<P>"...)
		for _, kb := range s.kbs {
			b = append(b, ' ')
			b = link(b, "https://catalog.update.microsoft.com/v7/site/Search.aspx?q="+kb, kb)
			b = append(b, "<BR>"...)
		}
		return string(b)
	}
	b = append(b, "Customers are advised to upgrade to "...)
	b = append(b, s.name()...)
	b = append(b, " version "...)
	b = append(b, s.fixed...)
	b = append(b, " or later to remediate this vulnerability.<P>\nFor more information, refer to "...)
	b = link(b, s.advURL, s.advisory)
	b = append(b, '.')
	if r.chance(0.3) {
		b = append(b, "<P>\nWorkaround:<BR>\nRestrict access to the "...)
		b = append(b, s.comp...)
		b = append(b, " to trusted networks until the update can be applied."...)
	}
	return string(b)
}
