package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each value says where it came from; secrets are masked wherever they
// came from; a file holding a secret that others can read is a warning.
func TestConfiguration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qvt.yaml")
	yml := "db: /srv/qvt/qvt.db\nqualys:\n  platform: EU1\n  username: file-user\n  password: file-secret-pw\nscoring:\n  sla_days: {critical: 7}\n" +
		"mysql:\n  dsn: 'qvt:dsn-secret-pw@tcp(db:3306)/vulns'\nlimits:\n  field_text: 2048\n  max_wait: 90s\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QUALYS_USERNAME": "env-user", "NVD_API_KEY": "env-secret-key"}
	cfg, checks := Configuration(ConfigInput{Path: path, PathSource: "--config", Getenv: func(k string) string { return env[k] }})
	if cfg == nil {
		t.Fatalf("no configuration: %+v", checks)
	}
	var sb strings.Builder
	for _, c := range checks {
		sb.WriteString(c.Level.String() + " " + c.Message + " | " + c.Fix + "\n")
	}
	out := sb.String()
	for _, want := range []string{
		"ok configuration file " + path + " (--config)",
		"warn configuration file " + path + ": mode 0644: group and other users can read it (it holds secrets) | chmod 600 " + path,
		"ok db = /srv/qvt/qvt.db (file)",
		"ok qualys.platform = EU1 (file)",
		"ok qualys.username = env-user (environment QUALYS_USERNAME)",
		"ok qualys.password = [masked] (file)",
		"ok nvd.api_url = https://services.nvd.nist.gov/rest/json/cves/2.0 (default)",
		"ok nvd.api_key = [masked] (environment NVD_API_KEY)",
		"ok scoring.sla_days = {Critical: 7} (file)",
		"ok scoring.rating_from = env (default)",
		"ok mysql.dsn = qvt:[masked]@tcp(db:3306)/vulns (file)",
		"ok limits.field_text = 2KiB (file)",
		"ok limits.max_wait = 1m30s (file)",
		"ok limits.depth = 64 (default)",
		"ok limits.json_string = 1MiB (default)",
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" | \n") {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	for _, secret := range []string{"file-secret-pw", "env-secret-key", "dsn-secret-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s printed:\n%s", secret, out)
		}
	}

	// A value under a secret's name is masked even where
	// config.String would not mask it.
	for _, k := range []string{"web.auth.password", "jira.token", "nvd.api_key", "x.client_secret"} {
		if !isSecretKey(k) {
			t.Errorf("%s is not taken for a secret", k)
		}
	}
	for _, k := range []string{"qualys.username", "jira.url", "scoring.sla_days"} {
		if isSecretKey(k) {
			t.Errorf("%s is taken for a secret", k)
		}
	}
}

// A DSN that does not parse is shown masked whole: its password could be
// anywhere in it.
func TestMaskDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"qvt:pw@tcp(db:3306)/vulns":     "qvt:[masked]@tcp(db:3306)/vulns",
		"qvt@tcp(db:3306)/vulns":        "qvt@tcp(db:3306)/vulns",
		"qvt:pw@tcp(db:3306)vulns?x=%z": "[masked] (does not parse",
	} {
		if got := maskDSN(dsn); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s, want %s", dsn, got, want)
		}
	}
}
