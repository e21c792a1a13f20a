package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qvt.yaml")
	os.WriteFile(path, []byte(`
db: /var/lib/qvt/qvt.db
qualys:
  platform: EU1
  username: file-user
  password: file-secret
scoring:
  rating_from: base
  sla_days: {critical: 7, High: 14}
`), 0o600)
	c, err := Load(path, env(map[string]string{"QUALYS_USERNAME": "env-user", "NVD_API_KEY": "env-key"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "/var/lib/qvt/qvt.db" || c.Qualys.Platform != "EU1" || c.Qualys.Username != "env-user" ||
		c.Qualys.Password != "file-secret" || c.NVD.APIKey != "env-key" {
		t.Errorf("config = %+v", c)
	}
	p := c.Policy()
	// The file's sla_days replace the defaults: Medium and Low have no deadline.
	if p.RatingFrom != "base" || p.SLADays["Critical"] != 7 || p.SLADays["High"] != 14 || len(p.SLADays) != 2 {
		t.Errorf("policy = %+v", p)
	}
	if len(p.VectorOrder) != 5 {
		t.Errorf("vector order = %v", p.VectorOrder)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "qvt.db" || c.Policy().SLADays["High"] != 30 || c.NVD.APIURL == "" {
		t.Errorf("defaults = %+v", c)
	}
	c, _ = Load("", env(map[string]string{"QVT_DB": "/tmp/x.db"}))
	if c.DB != "/tmp/x.db" {
		t.Errorf("QVT_DB ignored: %q", c.DB)
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":    "qualys:\n  pasword: x\n",
		"bad order":      "scoring:\n  vector_order: [kb_v9]\n",
		"bad rating":     "scoring:\n  rating_from: worst\n",
		"negative days":  "scoring:\n  sla_days: {High: -1}\n",
		"unknown rating": "scoring:\n  sla_days: {Urgent: 1}\n",
		"not yaml":       "db: [\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path, env(nil)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "config") {
			t.Errorf("%s: error %q does not say it is the configuration", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), env(nil)); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSecretsRedacted(t *testing.T) {
	secrets := map[string]string{
		"QUALYS_PASSWORD":  "hunter2-qualys",
		"NVD_API_KEY":      "nvd-key-123",
		"JIRA_TOKEN":       "jira-token-456",
		"QVT_MYSQL_DSN":    "qvt:mysql-pw-789@tcp(db:3306)/vulns",
		"QVT_WEB_PASSWORD": "web-pw-000",
		"QVT_WEB_TOKEN":    "web-token-111",
	}
	c, err := Load("", env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	for _, secret := range []string{"hunter2-qualys", "nvd-key-123", "jira-token-456", "mysql-pw-789", "web-pw-000", "web-token-111"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() shows %q:\n%s", secret, s)
		}
	}
	if !strings.Contains(s, "[REDACTED]") {
		t.Errorf("String() marks nothing redacted:\n%s", s)
	}
	// Secrets feeds the log's redaction: every secret must be in it.
	got := c.Secrets()
	for _, secret := range []string{"hunter2-qualys", "nvd-key-123", "jira-token-456", "mysql-pw-789", "web-pw-000", "web-token-111"} {
		if !slices.Contains(got, secret) {
			t.Errorf("Secrets() lacks %q", secret)
		}
	}
}

// The dashboard's host names and certificate come from the file or the
// environment; QVT_WEB_HOSTS is a comma-separated list that replaces the
// file's.
func TestWebConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qvt.yaml")
	os.WriteFile(path, []byte(`
web:
  addr: 0.0.0.0:8443
  hosts: [dash.example.com, 10.0.0.5]
  tls_cert: /etc/qvt/cert.pem
  tls_key: /etc/qvt/key.pem
`), 0o600)
	c, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Web
	if !slices.Equal(w.Hosts, []string{"dash.example.com", "10.0.0.5"}) || w.TLSCert != "/etc/qvt/cert.pem" || w.TLSKey != "/etc/qvt/key.pem" {
		t.Errorf("web = %+v", w)
	}
	c, err = Load(path, env(map[string]string{"QVT_WEB_HOSTS": " vulns.example.org, ,qvt:8443 ",
		"QVT_WEB_TLS_CERT": "/run/cert.pem", "QVT_WEB_TLS_KEY": "/run/key.pem"}))
	if err != nil {
		t.Fatal(err)
	}
	w = c.Web
	if !slices.Equal(w.Hosts, []string{"vulns.example.org", "qvt:8443"}) || w.TLSCert != "/run/cert.pem" || w.TLSKey != "/run/key.pem" {
		t.Errorf("web from the environment = %+v", w)
	}
}

// A mistake in the file is one line: the file, the line, the key's path
// and what is wrong, with the nearest valid key for a misspelt one, and
// never the value written there.
func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"misspelt key", "qualys:\n  usrname: x\n", ":2: qualys.usrname: unknown key (did you mean username?)"},
		{"misspelt top key", "db: x.db\nqualis:\n  username: x\n", ":2: qualis: unknown key (did you mean qualys?)"},
		{"misspelt nested key", "web:\n  auth:\n    passwrd: CFGPW-9a8b7c6d\n", ":3: web.auth.passwrd: unknown key (did you mean password?)"},
		{"far from any key", "nvd:\n  frobnicate: 1\n", ":2: nvd.frobnicate: unknown key (valid keys: api_key, api_url)"},
		{"key in a list", "environments:\n  - name: dmz\n    cidr: [10.0.0.0/8]\n", ":3: environments[0].cidr: unknown key (did you mean cidrs?)"},
		{"scalar for a mapping", "qualys: CFGPW-9a8b7c6d\n", ":1: qualys: want a mapping of keys (api_url, password, platform, username), not a single value"},
		{"text for a number", "mysql:\n  batch: CFGPW-9a8b7c6d\n", ":2: mysql.batch: want a whole number"},
		{"text for a bool", "scoring:\n  sla_restart_on_reopen: CFGPW-9a8b7c6d\n", ":2: scoring.sla_restart_on_reopen: want true or false"},
		{"text for a map value", "scoring:\n  sla_days: {high: CFGPW-9a8b7c6d}\n", ":2: scoring.sla_days.high: want a whole number"},
		{"list for a text", "qualys:\n  password: [CFGPW-9a8b7c6d]\n", ":2: qualys.password: want a text value, not a list"},
		{"number too large", "mysql:\n  batch: 99999999999999999999999\n", ":2: mysql.batch: want a whole number"},
		{"number beyond int64", "mysql:\n  batch: 18446744073709551615\n", ":2: mysql.batch: want a whole number"},
		{"not yaml", "qualys:\n  password: \"CFGPW-9a8b7c6d\n", ":2: not valid YAML: "},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(tc.body), 0o600)
		_, err := Load(path, env(nil))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "config: "+path+tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, msg, "config: "+path+tc.want+"...")
		}
		if strings.Contains(msg, "CFGPW") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error shows the value or spans lines: %q", tc.name, msg)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "abc", 3}, {"usrname", "username", 1}, {"kitten", "sitting", 3}, {"api_url", "api_key", 3}, {"flaw", "lawn", 2}} {
		if got := levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
		if got := levenshtein(tc.b, tc.a); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.d)
		}
	}
}

// A schedule that does not parse stops qvt at load, with one line naming
// the key and the value; QVT_SCHEDULE and QVT_SCHEDULE_TZ set it.
func TestScheduleChecked(t *testing.T) {
	for _, tc := range []struct {
		env map[string]string
		err string
	}{
		{map[string]string{"QVT_SCHEDULE": "0 2 * * *", "QVT_SCHEDULE_TZ": "Europe/Paris"}, ""},
		{map[string]string{"QVT_SCHEDULE": "0 2 * *"}, `config: schedule.run "0 2 * *"`},
		{map[string]string{"QVT_SCHEDULE_TZ": "Paris"}, `config: schedule.timezone "Paris"`},
	} {
		c, err := Load("", func(k string) string { return tc.env[k] })
		if tc.err == "" {
			if err != nil || c.Schedule.Run != "0 2 * * *" || c.Schedule.Timezone != "Europe/Paris" {
				t.Errorf("%v: %v, schedule %+v", tc.env, err, c)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line starting %q", tc.env, err, tc.err)
		}
	}
}
