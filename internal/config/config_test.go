package config

import (
	"os"
	"path/filepath"
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
	c, _ := Load("", env(map[string]string{"QUALYS_PASSWORD": "hunter2-qualys", "NVD_API_KEY": "nvd-key-123"}))
	s := c.String()
	if strings.Contains(s, "hunter2-qualys") || strings.Contains(s, "nvd-key-123") || !strings.Contains(s, "[REDACTED]") {
		t.Errorf("String() = %s", s)
	}
	if got := c.Secrets(); len(got) != 2 {
		t.Errorf("Secrets() = %v", got)
	}
}
