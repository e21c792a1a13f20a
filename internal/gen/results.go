package gen

import (
	"strconv"
	"strings"
)

// ports picks where a check was found. Remote checks have a port and
// protocol; authenticated (local) checks mostly have none, which is how
// the real output shows them (no PORT element).
func ports(r *rnd, s style, os osClass) (port int, proto string, ssl bool) {
	tcp := func(p int) (int, string, bool) {
		switch p {
		case 443, 8443, 9443, 636, 993, 995, 465, 5061, 3389:
			return p, "tcp", true
		}
		return p, "tcp", false
	}
	switch s {
	case styleWeb, styleWAS:
		return tcp([]int{443, 443, 443, 80, 80, 8080, 8443, 8000, 9443}[r.intn(9)])
	case styleTLS:
		return tcp([]int{443, 443, 443, 443, 22, 22, 22, 3389, 8443, 636, 993, 995, 465, 5061, 1194}[r.intn(15)])
	case styleDNS:
		if r.chance(0.5) {
			return 53, "udp", false
		}
		return 53, "tcp", false
	case styleDB:
		return tcp([]int{1433, 3306, 5432, 1521, 27017, 6379, 9200}[r.intn(7)])
	case styleFTP:
		return 21, "tcp", false
	case styleSNMP:
		return 161, "udp", false
	case styleSMB:
		return tcp([]int{445, 445, 139}[r.intn(3)])
	case styleMail:
		return tcp([]int{25, 587, 110, 143, 993}[r.intn(5)])
	case styleCisco:
		return tcp([]int{22, 443, 443}[r.intn(3)])
	case styleTCP: // TCP/IP checks: on an open port, or on none (ICMP)
		if r.chance(0.6) {
			return tcp([]int{80, 443, 22}[r.intn(3)])
		}
	case styleIG:
		if r.chance(0.65) {
			return tcp([]int{22, 80, 443, 135, 445, 3389}[r.intn(6)])
		}
	default: // authenticated checks
		if r.chance(0.25) {
			if os == osWindows {
				return 445, "tcp", false
			}
			return 22, "tcp", false
		}
	}
	return 0, "", false
}

// results appends a detection's RESULTS: what the scanner saw, in the
// shapes real output has (HTTP exchanges, cipher tables, package versions,
// file versions, dig output). They average about 350 bytes.
func results(b []byte, r *rnd, h *vulnHead, p *hostProfile, st *detState, scanned int64) []byte {
	switch h.fam.style {
	case styleWeb, styleWAS:
		b = httpExchange(b, r, h, p, st, scanned)
	case styleTLS, styleCisco:
		if st.port == 22 {
			b = sshResults(b, r)
		} else {
			b = tlsResults(b, r, p, st)
		}
	case styleDNS:
		b = digResults(b, r)
	case styleDistro:
		b = packageResults(b, r, h)
	case styleWindows, styleOffice, stylePolicy:
		b = windowsResults(b, r, h)
	case styleLocal, styleVMware:
		if p.os.class == osWindows {
			b = windowsResults(b, r, h)
		} else {
			b = packageResults(b, r, h)
		}
	case styleIG:
		b = igResults(b, r, p, scanned)
	default:
		b = bannerResults(b, r, h, st)
	}
	return b
}

func hostName(p *hostProfile) string {
	if p.name == "" {
		return "10.0.0." + strconv.Itoa(p.k%254+1)
	}
	return p.name + "." + p.domain
}

// appendHTTPDate appends an RFC 1123 date, "Tue, 16 May 2023 15:11:34 GMT".
func appendHTTPDate(b []byte, sec int64) []byte {
	days := floorDiv(sec, day)
	y, m, dd := civil(days)
	b = append(b, [...]string{"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}[(days%7+7)%7]...)
	b = append(b, ", "...)
	b = num(b, dd, 2)
	b = append(b, ' ')
	b = append(b, months[m-1][:3]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ' ')
	clock := appendClock(nil, sec)
	b = append(b, clock[1:]...)
	return append(b, " GMT"...)
}

var httpServers = []string{"Apache/2.4.41 (Ubuntu)", "nginx/1.18.0", "Microsoft-IIS/10.0", "Apache-Coyote/1.1",
	"Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips", "cloudflare", "Jetty(9.4.43.v20210629)", "openresty/1.21.4.1"}

func httpExchange(b []byte, r *rnd, h *vulnHead, p *hostProfile, st *detState, scanned int64) []byte {
	if r.chance(0.35) {
		b = append(b, pick(r, []string{"X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security", "Content-Security-Policy"})...)
		b = append(b, " HTTP Header missing on port "...)
		b = strconv.AppendInt(b, int64(st.port), 10)
		b = append(b, ".\n\n"...)
	}
	b = append(b, "GET "...)
	b = append(b, pick(r, []string{"/", "/index.php", "/login", "/api/v1/status", "/admin/", "/wp-login.php"})...)
	b = append(b, " HTTP/1.1\nHost: "...)
	b = append(b, hostName(p)...)
	b = append(b, "\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:93.0) Gecko/20100101 Firefox/93.0\nAccept: */*\n\nHTTP/1.1 "...)
	b = append(b, pick(r, []string{"200 OK", "200 OK", "302 Found", "403 Forbidden", "401 Unauthorized"})...)
	b = append(b, "\nDate: "...)
	b = appendHTTPDate(b, scanned+int64(r.intn(600)))
	b = append(b, "\nServer: "...)
	if p := h.product(); strings.Contains(p.display, "nginx") || strings.Contains(p.display, "Apache") || strings.Contains(p.display, "IIS") {
		b = append(b, p.display...)
		b = append(b, '/')
		b = append(b, version(r)...)
	} else {
		b = append(b, pick(r, httpServers)...)
	}
	b = append(b, "\nContent-Type: text/html; charset=UTF-8\nConnection: close"...)
	for _, hd := range []struct {
		p float64
		s string
	}{
		{0.6, "\nCache-Control: no-cache, no-store, must-revalidate\nPragma: no-cache"},
		{0.4, "\nX-Powered-By: PHP/7.4.33"},
		{0.5, "\nVary: Accept-Encoding,User-Agent"},
		{0.5, "\nContent-Length: 1452"},
		{0.3, "\nStrict-Transport-Security: max-age=31536000"},
		{0.3, "\nLast-Modified: Thu, 04 Aug 2022 19:10:01 GMT\nETag: \"5ac-5e57ec7e5b1c4\"\nAccept-Ranges: bytes"},
	} {
		if r.chance(hd.p) {
			b = append(b, hd.s...)
		}
	}
	if r.chance(0.5) {
		b = append(b, "\nSet-Cookie: SESSIONID="...)
		b = strconv.AppendUint(b, r.u64(), 36)
		b = append(b, "; path=/; HttpOnly"...)
	}
	if r.chance(0.25) {
		b = append(b, "\nReport-To: {&quot;endpoints&quot;:[{&quot;url&quot;:&quot;https:\\/\\/report.example.com\\/v3?s="...)
		b = strconv.AppendUint(b, r.u64(), 36)
		b = append(b, "&quot;}],&quot;max_age&quot;:604800}"...)
	}
	if r.chance(0.3) {
		b = append(b, "\n\n<!DOCTYPE html>\n<html><head><title>"...)
		b = append(b, h.product().display...)
		b = append(b, "</title>\n<script type=\"text/javascript\">"...)
		// Now and then a scanned page carries its own CDATA section, whose
		// end the XML writer must split around.
		cdata := r.chance(0.03)
		if cdata {
			b = append(b, "//<![CDATA[\n"...)
		}
		b = append(b, "var cfg = {&quot;v&quot;: "...)
		b = strconv.AppendInt(b, int64(r.intn(100)), 10)
		b = append(b, "};"...)
		if cdata {
			b = append(b, "\n//]]>"...)
		}
		b = append(b, "</script></head>"...)
	}
	return b
}

func sshResults(b []byte, r *rnd) []byte {
	if r.chance(0.5) {
		b = append(b, "Vulnerable SSH-2.0-OpenSSH_"...)
		b = append(b, pick(r, []string{"7.4", "8.2p1 Ubuntu-4ubuntu0.5", "7.9p1 Debian-10+deb10u2", "8.0", "9.3p1"})...)
		b = append(b, " detected on port 22 over TCP."...)
		if r.chance(0.5) {
			return b
		}
		b = append(b, "\n\n"...)
	}
	b = append(b, "Type\tName\n"...)
	for range r.between(3, 8) {
		b = append(b, pick(r, []string{
			"key exchange\tdiffie-hellman-group1-sha1", "key exchange\tdiffie-hellman-group-exchange-sha1",
			"cipher\tblowfish-cbc", "cipher\tcast128-cbc", "cipher\t3des-cbc", "cipher\taes128-cbc",
			"mac\thmac-md5", "mac\thmac-sha1-96"})...)
		b = append(b, '\n')
	}
	return b[:len(b)-1]
}

func tlsResults(b []byte, r *rnd, p *hostProfile, st *detState) []byte {
	switch r.intn(3) {
	case 0:
		b = append(b, pick(r, []string{"TLSv1.0 is supported", "TLSv1.1 is supported", "SSLv3 is supported"})...)
		b = append(b, "\n\nCIPHER\tKEY-EXCHANGE\tAUTHENTICATION\tMAC\tENCRYPTION(KEY-STRENGTH)\tGRADE\n"...)
		for range r.between(1, 4) {
			b = append(b, pick(r, tlsCiphers)...)
			b = append(b, '\n')
		}
		return b[:len(b)-1]
	case 1:
		b = append(b, "CIPHER\tKEY-EXCHANGE\tAUTHENTICATION\tMAC\tENCRYPTION(KEY-STRENGTH)\tGRADE\n"...)
		b = append(b, pick(r, []string{"TLSv1 WITH RC4 CIPHERs IS SUPPORTED", "TLSv1.2 WITH 64-BIT CBC CIPHERS IS SUPPORTED", "TLSv1.1 WITH WEAK CIPHERS IS SUPPORTED"})...)
		b = append(b, "\t \t \t \t \t \n"...)
		for range r.between(2, 6) {
			b = append(b, pick(r, tlsCiphers)...)
			b = append(b, '\n')
		}
		return b[:len(b)-1]
	}
	name := hostName(p)
	b = append(b, "Certificate #0 CN="...)
	b = append(b, name...)
	b = append(b, " ("...)
	b = append(b, name...)
	b = append(b, ") "...)
	b = append(b, pick(r, []string{"doesn&apos;t resolve", "unable to get local issuer certificate", "self signed certificate", "certificate has expired"})...)
	b = append(b, "\n(0)CN="...)
	b = append(b, name...)
	b = append(b, ",O=Example Corp,L=Springfield,ST=Oregon,C=US\n    Issuer: CN=Example Internal CA "...)
	b = strconv.AppendInt(b, int64(r.between(1, 9)), 10)
	b = append(b, "\n    Validity: Not After "...)
	b = append(b, pick(r, months)...)
	b = append(b, " 12 23:59:59 2025 GMT on port "...)
	b = strconv.AppendInt(b, int64(st.port), 10)
	for i := range r.intn(3) {
		b = append(b, "\n("...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, ")CN=Example Internal CA "...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, ",OU=PKI,O=Example Corp,C=US\n    Issuer: CN=Example Root CA,O=Example Corp,C=US\n    Serial: "...)
		b = strconv.AppendUint(b, r.u64(), 16)
		b = append(b, "\n    Signature Algorithm: sha256WithRSAEncryption"...)
	}
	return b
}

var tlsCiphers = []string{
	"RC4-SHA\tRSA\tRSA\tSHA1\tRC4(128)\tMEDIUM", "RC4-MD5\tRSA\tRSA\tMD5\tRC4(128)\tMEDIUM",
	"DES-CBC3-SHA\tRSA\tRSA\tSHA1\t3DES(168)\tMEDIUM", "ECDHE-RSA-DES-CBC3-SHA\tECDH\tRSA\tSHA1\t3DES(168)\tMEDIUM",
	"AES128-SHA\tRSA\tRSA\tSHA1\tAES(128)\tMEDIUM", "AES256-SHA\tRSA\tRSA\tSHA1\tAES(256)\tHIGH",
	"ECDHE-RSA-AES128-SHA\tECDH\tRSA\tSHA1\tAES(128)\tMEDIUM",
}

func digResults(b []byte, r *rnd) []byte {
	b = append(b, ";; -&gt;&gt;HEADER&lt;&lt;- opcode: QUERY, rcode: NOERROR, id: "...)
	b = strconv.AppendInt(b, int64(r.intn(65536)), 10)
	b = append(b, "\n;; flags: qr rd ra ; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0\n;; QUESTION SECTION:\n;; example.com. IN SOA\n\n;; ANSWER SECTION:\nexample.com. 3410 IN SOA ns1.example.com. hostmaster.example.com. "...)
	b = strconv.AppendInt(b, int64(r.between(2020000000, 2030000000)), 10)
	b = append(b, " 10000 2400 604800 3600\n\n;; Query time: "...)
	b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
	b = append(b, " msec\n;; MSG SIZE  rcvd: 91"...)
	return b
}

func packageResults(b []byte, r *rnd, h *vulnHead) []byte {
	pkg := h.pkg()
	if h.fam.style != styleDistro {
		pkg = strings.ToLower(strings.ReplaceAll(h.product().name, "_", "-"))
	}
	b = append(b, "Vulnerable version of "...)
	b = append(b, pkg...)
	b = append(b, " detected.\n\nPackage\tInstalled Version\tRequired Version\n"...)
	for i := range r.between(1, 7) {
		b = append(b, pkg...)
		if i > 0 {
			b = append(b, pick(r, []string{"-libs", "-devel", "-common", "-tools", "-headers"})...)
		}
		v := version(r)
		b = append(b, '\t')
		b = append(b, v...)
		b = append(b, pick(r, []string{"-1.el8", "-3ubuntu0.4", "-150500.3.9.1", "-2.amzn2", "+deb12u1"})...)
		b = append(b, '\t')
		b = append(b, laterVersion(r, v)...)
		b = append(b, '\n')
	}
	if r.chance(0.4) {
		b = append(b, "\nThe package was installed from repository "...)
		b = append(b, pick(r, []string{"rhel-8-for-x86_64-baseos-rpms", "ubuntu-jammy-updates main", "amzn2-core", "SLE-Module-Basesystem15-SP5-Updates", "bookworm-security/main"})...)
		b = append(b, " and is used by the running services.\n"...)
	}
	return b[:len(b)-1]
}

func windowsResults(b []byte, r *rnd, h *vulnHead) []byte {
	for range r.between(1, 5) {
		b = append(b, pick(r, []string{`%windir%\System32\win32kfull.sys`, `%windir%\System32\ntoskrnl.exe`,
			`%windir%\System32\mshtml.dll`, `%ProgramFiles%\Microsoft Office\root\Office16\EXCEL.EXE`,
			`%windir%\System32\spoolsv.exe`, `%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe`,
			`%windir%\System32\drivers\tcpip.sys`, `%windir%\System32\lsasrv.dll`})...)
		b = append(b, "  Version is "...)
		b = append(b, "10.0."...)
		b = strconv.AppendInt(b, int64(r.between(14393, 26100)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.between(1, 5500)), 10)
		b = append(b, '\n')
	}
	if r.chance(0.5) {
		b = append(b, "KB"...)
		b = strconv.AppendInt(b, int64(r.between(4010000, 5049999)), 10)
		b = append(b, " is not installed\n"...)
	}
	if r.chance(0.4) {
		b = append(b, `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion UBR = `...)
		b = strconv.AppendInt(b, int64(r.between(1000, 6000)), 10)
		b = append(b, '\n')
	}
	if r.chance(0.3) {
		b = append(b, h.product().display...)
		b = append(b, " is installed at C:\\Program Files\\"...)
		b = append(b, h.product().display...)
		b = append(b, '\n')
	}
	return b[:len(b)-1]
}

func igResults(b []byte, r *rnd, p *hostProfile, scanned int64) []byte {
	switch r.intn(4) {
	case 0:
		b = append(b, "Operating System\tTechnique\tID\n"...)
		b = append(b, p.os.name...)
		b = append(b, pick(r, []string{"\tNTLMSSP\t", "\tTCP/IP Fingerprint\tU7011:3389", "\tCredential Scan\t", "\tSNMP\t"})...)
	case 1:
		b = append(b, "Port\tIANA Assigned Ports/Services\tDescription\tService Detected\tOS On Redirected Port\n"...)
		for range r.between(3, 12) {
			b = append(b, pick(r, []string{"22\tssh\tSSH Remote Login Protocol\tssh", "80\twww\tWorld Wide Web HTTP\thttp",
				"443\thttps\thttp protocol over TLS/SSL\thttp over ssl", "135\tmsrpc-epmap\tepmap DCE/RPC Location Service\tmsrpc",
				"445\tmicrosoft-ds\tMicrosoft-DS\tmicrosoft-ds", "3389\tms-wbt-server\tMS WBT Server\tmsrdp",
				"5985\twsman\tWBEM WS-Management HTTP\thttp", "8080\thttp-alt\tHTTP Alternate\thttp"})...)
			b = append(b, '\n')
		}
		b = b[:len(b)-1]
	case 2:
		b = append(b, "Hops\tIP\tRound Trip Time\tProbe\tPort\n"...)
		for i := range r.between(2, 7) {
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, "\t10."...)
			b = strconv.AppendInt(b, int64(r.intn(256)), 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(r.intn(256)), 10)
			b = append(b, ".1\t"...)
			b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
			b = append(b, ".00ms\tICMP\t\n"...)
		}
		b = b[:len(b)-1]
	default:
		dur := r.between(60, 4000)
		b = append(b, "Scan duration: "...)
		b = strconv.AppendInt(b, int64(dur), 10)
		b = append(b, " seconds\n\nStart time: "...)
		b = appendHTTPDate(b, scanned)
		b = append(b, "\n\nEnd time: "...)
		b = appendHTTPDate(b, scanned+int64(dur))
	}
	return b
}

func bannerResults(b []byte, r *rnd, h *vulnHead, st *detState) []byte {
	p := h.product()
	switch h.fam.style {
	case styleFTP:
		b = append(b, "220 ("...)
		b = append(b, p.display...)
		b = append(b, ' ')
		b = append(b, version(r)...)
		b = append(b, ")\n"...)
	case styleMail:
		b = append(b, "220 mail.example.com ESMTP "...)
		b = append(b, p.display...)
		b = append(b, ' ')
		b = append(b, version(r)...)
		b = append(b, '\n')
	case styleSNMP:
		b = append(b, "Community string: public\nsysDescr: "...)
		b = append(b, p.display...)
		b = append(b, " Software, Version "...)
		b = append(b, version(r)...)
		b = append(b, "\nsysUpTime: "...)
		b = strconv.AppendInt(b, int64(r.intn(1e9)), 10)
		b = append(b, '\n')
	case styleTCP:
		return append(b, pick(r, []string{"Timestamp of host (network byte ordering): 12:41:05 GMT",
			"Average change between subsequent TCP initial sequence numbers: 1167498\nSequence number\tTime\n",
			"IP ID changes observed (network order) for port 80: 512 512 512 512"})...)
	default:
		b = append(b, p.display...)
		b = append(b, ' ')
		b = append(b, version(r)...)
		b = append(b, " detected on port "...)
		b = strconv.AppendInt(b, int64(st.port), 10)
		b = append(b, " over "...)
		b = append(b, strings.ToUpper(st.proto)...)
		b = append(b, ".\n"...)
	}
	return append(b, "Detected version is lower than the fixed version."...)
}
