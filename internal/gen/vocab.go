package gen

import "strings"

// The vocabulary is a few hundred real product, package and weakness
// names. Records combine them at random, so texts vary the way real ones
// do (same phrasing, different subjects) and compress about as well.

// product is software a KB entry or CVE is about.
type product struct {
	vendor, name, display string
}

// products parses "vendor|product|Display Name" lines.
func products(lines string) []product {
	var out []product
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		f := strings.Split(strings.TrimSpace(l), "|")
		out = append(out, product{f[0], f[1], f[2]})
	}
	return out
}

var (
	webProducts = products(`
		apache|http_server|Apache HTTP Server
		f5|nginx|nginx
		microsoft|internet_information_services|Microsoft IIS
		apache|tomcat|Apache Tomcat
		php|php|PHP
		wordpress|wordpress|WordPress
		drupal|drupal|Drupal
		joomla|joomla\!|Joomla!
		jquery|jquery|jQuery
		jenkins|jenkins|Jenkins
		gitlab|gitlab|GitLab
		atlassian|confluence_server|Atlassian Confluence Server
		atlassian|jira_server|Atlassian Jira Server
		grafana|grafana|Grafana
		oracle|weblogic_server|Oracle WebLogic Server
		ibm|websphere_application_server|IBM WebSphere Application Server
		vmware|spring_framework|Spring Framework
		apache|struts|Apache Struts
		citrix|netscaler_application_delivery_controller|Citrix NetScaler ADC
		f5|big-ip_local_traffic_manager|F5 BIG-IP
		ivanti|connect_secure|Ivanti Connect Secure
		fortinet|fortios|Fortinet FortiOS
		paloaltonetworks|pan-os|Palo Alto Networks PAN-OS
		zimbra|collaboration|Zimbra Collaboration
		roundcube|webmail|Roundcube Webmail
		moodle|moodle|Moodle
		phpmyadmin|phpmyadmin|phpMyAdmin
		apache|activemq|Apache ActiveMQ
		progress|moveit_transfer|Progress MOVEit Transfer
		sonatype|nexus_repository_manager|Sonatype Nexus Repository`)

	remoteProducts = products(`
		openbsd|openssh|OpenSSH
		openssl|openssl|OpenSSL
		dropbear_ssh_project|dropbear_ssh|Dropbear SSH
		microsoft|remote_desktop_protocol|Microsoft Remote Desktop Protocol
		realvnc|vnc_server|RealVNC Server
		gnu|inetutils|GNU inetutils telnetd
		haproxy|haproxy|HAProxy
		squid-cache|squid|Squid
		openvpn|openvpn|OpenVPN
		ntp|ntp|NTP ntpd
		rpcbind_project|rpcbind|rpcbind
		libssh|libssh|libssh`)

	dnsProducts = products(`
		isc|bind|ISC BIND
		thekelleys|dnsmasq|dnsmasq
		nlnetlabs|unbound|Unbound
		microsoft|windows_dns_server|Microsoft Windows DNS Server
		powerdns|recursor|PowerDNS Recursor`)

	dbProducts = products(`
		oracle|mysql|Oracle MySQL
		postgresql|postgresql|PostgreSQL
		microsoft|sql_server|Microsoft SQL Server
		oracle|database_server|Oracle Database Server
		mongodb|mongodb|MongoDB
		redis|redis|Redis
		elastic|elasticsearch|Elasticsearch
		mariadb|mariadb|MariaDB`)

	ftpProducts = products(`
		beasts|vsftpd|vsftpd
		proftpd|proftpd|ProFTPD
		pureftpd|pure-ftpd|Pure-FTPd
		filezilla-project|filezilla_server|FileZilla Server`)

	mailProducts = products(`
		exim|exim|Exim
		postfix|postfix|Postfix
		dovecot|dovecot|Dovecot
		microsoft|exchange_server|Microsoft Exchange Server
		sendmail|sendmail|Sendmail`)

	smbProducts = products(`
		samba|samba|Samba
		microsoft|windows_smb|Microsoft Windows SMB Server`)

	snmpProducts = products(`
		net-snmp|net-snmp|Net-SNMP
		cisco|ios_snmp|Cisco IOS SNMP`)

	windowsProducts = products(`
		microsoft|windows_kernel|Windows Kernel
		microsoft|win32k|Windows Win32k
		microsoft|windows_print_spooler|Windows Print Spooler
		microsoft|remote_desktop_services|Windows Remote Desktop Services
		microsoft|windows_smb|Windows SMB
		microsoft|hyper-v|Windows Hyper-V
		microsoft|windows_tcp_ip|Windows TCP/IP
		microsoft|graphics_component|Microsoft Graphics Component
		microsoft|cryptoapi|Windows CryptoAPI
		microsoft|windows_kerberos|Windows Kerberos
		microsoft|edge_chromium|Microsoft Edge (Chromium-based)
		microsoft|.net_framework|Microsoft .NET Framework
		microsoft|windows_ldap|Windows Lightweight Directory Access Protocol (LDAP)
		microsoft|windows_mshtml|Windows MSHTML Platform
		microsoft|common_log_file_system|Windows Common Log File System Driver
		microsoft|internet_explorer|Microsoft Internet Explorer`)

	officeProducts = products(`
		microsoft|office|Microsoft Office
		microsoft|excel|Microsoft Excel
		microsoft|word|Microsoft Word
		microsoft|outlook|Microsoft Outlook
		microsoft|sharepoint_server|Microsoft SharePoint Server
		microsoft|visio|Microsoft Visio
		microsoft|teams|Microsoft Teams`)

	localProducts = products(`
		google|chrome|Google Chrome
		mozilla|firefox|Mozilla Firefox
		mozilla|thunderbird|Mozilla Thunderbird
		adobe|acrobat_reader_dc|Adobe Acrobat Reader DC
		oracle|jre|Oracle Java SE
		7-zip|7-zip|7-Zip
		notepad-plus-plus|notepad\+\+|Notepad++
		videolan|vlc_media_player|VLC Media Player
		zoom|meetings|Zoom Client for Meetings
		rarlab|winrar|WinRAR
		wireshark|wireshark|Wireshark
		python|python|Python
		git-scm|git|Git for Windows
		putty|putty|PuTTY
		vmware|workstation|VMware Workstation
		apple|itunes|Apple iTunes
		libreoffice|libreoffice|LibreOffice
		nodejs|node.js|Node.js
		docker|desktop|Docker Desktop
		slack|slack|Slack Desktop
		apache|log4j|Apache Log4j
		openjdk|openjdk|OpenJDK
		microsoft|visual_studio_code|Visual Studio Code
		tenable|nessus_agent|Tenable Nessus Agent
		citrix|workspace|Citrix Workspace App`)

	vmwareProducts = products(`
		vmware|esxi|VMware ESXi
		vmware|vcenter_server|VMware vCenter Server
		vmware|tools|VMware Tools
		vmware|horizon|VMware Horizon`)

	ciscoProducts = products(`
		cisco|ios|Cisco IOS
		cisco|ios_xe|Cisco IOS XE
		cisco|adaptive_security_appliance_software|Cisco Adaptive Security Appliance (ASA)
		cisco|nx-os|Cisco NX-OS
		cisco|firepower_threat_defense|Cisco Firepower Threat Defense`)

	// distroPackages are Linux package names for distribution advisories.
	distroPackages = strings.Fields(`kernel openssl glibc curl sudo systemd openssh bind python3 perl nss
		libxml2 libtiff expat zlib sqlite git vim samba httpd nginx php postgresql mariadb firefox
		thunderbird java-1.8.0-openjdk java-17-openjdk qemu-kvm libvirt polkit dbus krb5 gnutls libssh
		cups ghostscript ImageMagick poppler grub2 shim linux-firmware containerd runc golang nodejs ruby
		rsync less xz binutils gcc emacs tomcat squid dnsmasq unbound exim4 dovecot wireshark libpng
		libjpeg-turbo freetype harfbuzz webkit2gtk3 gstreamer1-plugins-base pcre2 libarchive tar gzip
		bluez NetworkManager openldap cyrus-sasl pam shadow-utils util-linux e2fsprogs libgcrypt`)
)

var (
	vulnClasses = []string{
		"Remote Code Execution", "Denial of Service", "Information Disclosure", "Privilege Escalation",
		"Cross-Site Scripting (XSS)", "SQL Injection", "Buffer Overflow", "Use-After-Free",
		"Out-of-Bounds Write", "Out-of-Bounds Read", "Integer Overflow", "Path Traversal",
		"Server-Side Request Forgery (SSRF)", "Authentication Bypass", "Security Feature Bypass",
		"Spoofing", "XML External Entity (XXE) Injection", "Command Injection",
		"Improper Certificate Validation", "Race Condition", "NULL Pointer Dereference",
		"Heap-Based Buffer Overflow", "Open Redirect", "Cross-Site Request Forgery (CSRF)",
		"Deserialization of Untrusted Data", "Memory Corruption", "Type Confusion",
	}

	causes = []string{
		"improper validation of user-supplied input",
		"insufficient bounds checking when processing crafted requests",
		"a logic error in the handling of HTTP/2 frames",
		"improper handling of objects in memory",
		"a missing authorization check in an administrative endpoint",
		"incorrect parsing of X.509 certificates with malformed extensions",
		"an integer overflow when calculating buffer sizes",
		"a use-after-free condition in the session cleanup routine",
		"improper neutralization of special elements used in an SQL command",
		"insufficient sanitization of file names supplied to the upload handler",
		"the application trusting serialized objects received from the client",
		"a race condition between the worker threads that share the connection state",
		"improper restriction of XML external entity references",
		"a flaw in the way the &quot;Content-Length&quot; header is validated",
		"an off-by-one error in the string copy performed by the parser",
		"improper access control on a named pipe used for inter-process communication",
	}

	attackVectors = []string{
		"sending a specially crafted request to the affected service",
		"convincing a user to open a malicious file",
		"supplying crafted input to an exposed API endpoint",
		"hosting a malicious web page and enticing a user to visit it",
		"sending a crafted packet to the affected host",
		"uploading a crafted archive through the web interface",
		"running a specially crafted application on the affected system",
		"tricking an authenticated administrator into following a crafted link",
	}

	impacts = []string{
		"execute arbitrary code with the privileges of the affected service",
		"cause a denial of service condition",
		"obtain sensitive information from process memory",
		"gain elevated privileges on the affected system",
		"bypass authentication and access protected resources",
		"inject arbitrary web script or HTML in the context of the user's browser",
		"read or modify data in the backend database",
		"read arbitrary files from the affected system",
		"bypass security restrictions and perform unauthorized actions",
		"spoof the identity of a trusted server",
	}

	outcomes = []string{
		"a complete compromise of the affected system",
		"disclosure of credentials and session tokens",
		"the service crashing and becoming unavailable to legitimate users",
		"unauthorized modification of configuration data",
		"lateral movement to other systems on the network",
	}

	components = []string{
		"HTTP request parser", "session management", "authentication module", "file upload handler",
		"TLS handshake", "XML parser", "image decoder", "scripting engine", "kernel driver",
		"management interface", "print service", "font rendering", "compression library",
		"DNS resolver", "certificate validation", "configuration import", "SMB client",
	}

	attackers = []string{
		"A remote, unauthenticated attacker", "A remote authenticated attacker",
		"A local attacker with low privileges", "An attacker on the adjacent network",
		"A remote attacker",
	}

	cwes = []string{
		"CWE-79", "CWE-787", "CWE-89", "CWE-416", "CWE-20", "CWE-125", "CWE-78", "CWE-22",
		"CWE-352", "CWE-434", "CWE-862", "CWE-476", "CWE-287", "CWE-190", "CWE-502", "CWE-77",
		"CWE-119", "CWE-798", "CWE-918", "CWE-306", "CWE-362", "CWE-269", "CWE-94", "CWE-863",
		"CWE-276", "CWE-200", "CWE-401", "CWE-400", "CWE-611", "CWE-295", "CWE-601", "CWE-122",
		"NVD-CWE-Other", "NVD-CWE-noinfo",
	}

	months = []string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}

	// threatIntel are Qualys' THREAT_INTEL ids and texts.
	threatIntel = []struct {
		n        int
		id, text string
	}{
		{1, "1", "Zero_Day"}, {2, "2", "Exploit_Public"}, {3, "3", "Active_Attacks"}, {4, "4", "High_Lateral_Movement"},
		{5, "5", "Easy_Exploit"}, {6, "6", "High_Data_Loss"}, {7, "7", "Denial_of_Service"}, {8, "8", "No_Patch"},
		{9, "9", "Malware"}, {10, "10", "Exploit_Kit"}, {11, "11", "Wormable"}, {12, "12", "Predicted_High_Risk"},
		{13, "13", "Privilege_Escalation"}, {14, "14", "Unauthenticated_Exploitation"},
		{15, "15", "Remote_Code_Execution"}, {16, "16", "Ransomware"}, {18, "18", "Cisa_Known_Exploited_Vulns"},
	}

	igTitles = []string{
		"DNS Host Name", "Operating System Detected", "Host Scan Time - Scanner", "Open TCP Services List",
		"Open UDP Services List", "Traceroute", "Target Network Information", "SSL Certificate - Information",
		"Installed Applications Enumerated From Windows Installer", "Linux Kernel Version",
		"Network Adapter MAC Address", "Firewall Detected", "HTTP Response Method and Header Information Collected",
		"Web Server Version", "SSH Banner", "List of Web Directories", "ICMP Replies Received",
		"Degree of Randomness of TCP Initial Sequence Numbers", "IP ID Values Randomness",
		"Windows Authentication Method", "Unix Authentication Method", "Host Names Found",
		"Scan Activity per Port", "Internet Service Provider", "SSL Session Caching Information",
		"Installed Software Enumerated", "Remote Access or Management Service Detected",
		"Qualys Cloud Agent Information", "Patches Installed on Windows", "Listening Services",
	}

	policyTitles = []string{
		"EOL/Obsolete Software: %s Detected", "%s Not Configured to Use Secure Settings",
		"Administrator Account's Password Does Not Expire", "Microsoft Windows Explorer AutoPlay Not Disabled",
		"Windows Remote Desktop Network Level Authentication Not Enabled", "SMB Signing Not Required",
		"Microsoft Windows Security Update Missing for %s", "Unquoted Service Path in %s",
		"Weak Password Policy Configured", "Cached Logon Credentials Stored",
	}

	tcpTitles = []string{
		"TCP Sequence Number Approximation Based Denial of Service", "ICMP Timestamp Request",
		"IP Forwarding Enabled", "TCP Timestamp Response", "ICMP Redirect Packets Accepted",
		"Hidden RPC Services", "NetBIOS Name Conflict Vulnerability", "IPv6 Router Advertisement Flood",
	}

	wasTitles = []string{
		"SQL Injection", "Cross-Site Scripting (XSS)", "Path-Based Vulnerability", "Cookie Without Secure Flag",
		"Server-Side Request Forgery", "Open Redirect", "Session Fixation", "Insecure Direct Object Reference",
		"Missing Content Security Policy Header", "Sensitive Form Field Has Autocomplete Enabled",
		"Clickjacking - Framable Page", "Unencrypted Password Form Detected", "Directory Listing Enabled",
	}

	tlsTitles = []string{
		"SSL/TLS use of weak RC4 cipher", "SSL Certificate - Self-Signed Certificate",
		"SSL Certificate - Expired", "SSL Certificate - Signature Verification Failed Vulnerability",
		"TLS Protocol Session Renegotiation Security Vulnerability", "SSL/TLS Server supports TLSv1.0",
		"SSL/TLS Server supports TLSv1.1", "Birthday attacks against TLS ciphers with 64bit block size vulnerability (Sweet32)",
		"SSH Weak Key Exchange Algorithms Enabled", "SSH Server CBC Mode Ciphers Enabled",
		"SSL Certificate - Subject Common Name Does Not Match Server FQDN", "HTTP Strict Transport Security (HSTS) Not Enabled",
	}

	tagNames = []string{
		"Internet Facing", "PCI", "Production", "Windows Servers", "Linux Servers", "Development",
		"DMZ", "Cloud Agent", "Business Critical", "Workstations", "Datacenter EU", "Datacenter US",
		"AWS", "Azure", "Staging", "SOX", "HIPAA", "Crown Jewels",
	}

	supportedModules = []string{
		"VM", "VM, CA-Windows Agent", "VM, CA-Linux Agent", "VM, CA-Windows Agent, CA-Mac Agent",
		"VM, CA-Linux Agent, CA-Mac Agent", "VM,WAS", "VM, CA-Windows Agent, CA-Linux Agent, CA-Mac Agent",
	}

	cveSources = []string{
		"cve@mitre.org", "secalert@redhat.com", "security@apache.org", "psirt@us.ibm.com",
		"cna@vuldb.com", "security-advisories@github.com", "secure@microsoft.com", "security@wordfence.com",
		"cve@kernel.org", "audit@patchstack.com", "psirt@cisco.com", "security@android.com",
		"vultures@jpcert.or.jp", "cve-coordination@incibe.es", "product-security@apple.com",
		"security@mozilla.org", "chrome-cve-admin@google.com", "psirt@fortinet.com", "security@oracle.com",
		"vulnerability@ncsc.ch", "cret@cert.org", "responsibledisclosure@mattermost.com",
	}
)

// spanish holds the Spanish half of the description vocabulary, accents
// and all: NVD adds "es" translations to many records.
var spanish = struct {
	classes, impacts []string
}{
	classes: []string{
		"ejecución remota de código", "denegación de servicio", "divulgación de información",
		"escalada de privilegios", "secuencias de comandos en sitios cruzados (XSS)", "inyección SQL",
		"desbordamiento de búfer", "uso después de liberación", "escritura fuera de límites",
		"lectura fuera de límites", "desbordamiento de enteros",
	},
	impacts: []string{
		"ejecutar código arbitrario", "provocar una denegación de servicio",
		"obtener información confidencial", "obtener privilegios elevados",
		"eludir la autenticación", "leer archivos arbitrarios del sistema",
	},
}
