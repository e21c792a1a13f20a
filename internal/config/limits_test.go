package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/load"
	"qvt/internal/qualys"
	"qvt/internal/retry"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{
		"0": 0, "4096": 4096, "1KiB": 1024, "64KiB": 64 << 10, "1MiB": 1 << 20, "32 MiB": 32 << 20,
		"2GiB": 2 << 30, "-1": -1, " 7 ": 7,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1MB", "1.5MiB", "1 M", "0x10", "1e6", "ten", "1KiBKiB", "99999999999999999999", "9999999999GiB", "--1"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for s, want := range map[Size]string{0: "0", 1000: "1000", 4096: "4KiB", 1 << 20: "1MiB", 3 << 29: "1536MiB", 1<<30 + 1: "1073741825"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d) = %q, want %q", int64(s), got, want)
		}
	}
}

func loadFile(t *testing.T, body string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qvt.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, env(nil))
}

// The limits: section reaches the decoders', the loader's and the clients'
// settings; what it leaves out, or sets to 0, is the default.
func TestLimitsFromFile(t *testing.T) {
	c, err := loadFile(t, `
limits:
  field_text: 2KiB
  tag: 512
  depth: 10
  record: 0
  json_string: 1MiB
  gzip_ratio: 50
  id_list: 1000
  connect_budget: 3s
  max_wait: 90s
  body_timeout: 1h
`)
	if err != nil {
		t.Fatal(err)
	}
	q := c.Limits.Qualys()
	if q.Text != 2048 || q.Tag != 512 || q.Depth != 10 || q.Record != qualys.DefaultLimits.Record || q.Comment != qualys.DefaultLimits.Comment {
		t.Errorf("qualys limits = %+v", q)
	}
	l := c.Limits.Load()
	if l.GzipRatio != 50 || l.GzipFloor != load.DefaultLimits.GzipFloor || l.NVD.String != 1<<20 || l.Qualys != q {
		t.Errorf("load limits = %+v", l)
	}
	if c.Limits.IDList != 1000 || c.Limits.ConnectBudget != 3*time.Second || c.Limits.MaxWait != 90*time.Second || c.Limits.BodyTimeout != time.Hour {
		t.Errorf("client limits = %+v", c.Limits)
	}
	d, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Limits.Qualys() != qualys.DefaultLimits || d.Limits.MaxWait != retry.DefaultMaxWait || d.Limits.IDList != qualys.DefaultMaxIDs {
		t.Errorf("default limits = %+v", d.Limits)
	}
	// Printed as written: sizes in their unit.
	if s := c.String(); !strings.Contains(s, "field_text: 2KiB") || !strings.Contains(s, "record: 32MiB") || !strings.Contains(s, "max_wait: 1m30s") {
		t.Errorf("String:\n%s", s)
	}
}

// A misspelt, malformed, negative or absurd limit is refused naming the
// key and its line.
func TestLimitsRefused(t *testing.T) {
	for body, want := range map[string]string{
		"limits:\n  field_txt: 1KiB\n":     "qvt.yaml:2: limits.field_txt: unknown key (did you mean field_text?)",
		"limits:\n  gzip_ration: 10\n":     "limits.gzip_ration: unknown key (did you mean gzip_ratio?)",
		"limits:\n  field_text: 1MB\n":     "qvt.yaml:2: limits.field_text: want a size such as 1MiB, 64KiB or 4096 (bytes)",
		"limits:\n  field_text: [1]\n":     "limits.field_text: want a size",
		"limits:\n  depth: deep\n":         "qvt.yaml:2: limits.depth: want a whole number",
		"limits:\n  max_wait: soon\n":      "qvt.yaml:2: limits.max_wait: want a duration such as 10m",
		"limits:\n  field_text: -1\n":      "limits.field_text: -1 is negative",
		"limits:\n  depth: -3\n":           "limits.depth: -3 is negative",
		"limits:\n  max_wait: -1m\n":       "limits.max_wait: -1m0s is negative",
		"limits:\n  record: 9GiB\n":        "limits.record: 9GiB is more than the most allowed, 4GiB",
		"limits:\n  id_list: 1e12\n":       "limits.id_list: want a whole number",
		"limits:\n  id_list: 2000000000\n": "limits.id_list: 2000000000 is more than the most allowed",
		"limits:\n  body_timeout: 8760h\n": "limits.body_timeout: 8760h0m0s is more than the most allowed, 168h0m0s",
		"limits: 1MiB\n":                   "limits: want a mapping of keys (body_timeout, cdata, comment,",
	} {
		_, err := loadFile(t, body)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}
