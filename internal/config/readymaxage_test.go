package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// web.ready_max_age reads as a duration from the file, and
// QVT_WEB_READY_MAX_AGE overrides it; a value that is no duration is
// refused by its name.
func TestReadyMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qvt.yaml")
	if err := os.WriteFile(path, []byte("web:\n  ready_max_age: 30h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, env string
		want      time.Duration
		err       string
	}{
		{"", "", 0, ""}, // 0: the dashboard's default
		{path, "", 30 * time.Hour, ""},
		{path, "2h30m", 150 * time.Minute, ""},
		{"", "-1s", -time.Second, ""},
		{path, "2 days", 0, `QVT_WEB_READY_MAX_AGE "2 days": want a duration`},
	} {
		c, err := Load(tc.path, env(map[string]string{"QVT_WEB_READY_MAX_AGE": tc.env}))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("file %q, env %q: error %v, want %q", tc.path, tc.env, err, tc.err)
			}
		case err != nil:
			t.Errorf("file %q, env %q: %v", tc.path, tc.env, err)
		case c.Web.ReadyMaxAge != tc.want:
			t.Errorf("file %q, env %q: ready_max_age %v, want %v", tc.path, tc.env, c.Web.ReadyMaxAge, tc.want)
		}
	}
	if err := os.WriteFile(path, []byte("web:\n  ready_max_age: tomorrow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "ready_max_age") {
		t.Errorf("ready_max_age: tomorrow: %v", err)
	}
}
