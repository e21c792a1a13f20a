package doctor

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"
	"go.yaml.in/yaml/v3"

	"qvt/internal/config"
	"qvt/internal/store"
)

// envNames are the environment variables that set configuration keys:
// those config.Load reads, and Jira's and Assets' (their FromEnv).
var envNames = map[string]string{
	"db":                  "QVT_DB",
	"qualys.api_url":      "QUALYS_API_URL",
	"qualys.platform":     "QUALYS_PLATFORM",
	"qualys.username":     "QUALYS_USERNAME",
	"qualys.password":     "QUALYS_PASSWORD",
	"nvd.api_url":         "NVD_API_URL",
	"nvd.api_key":         "NVD_API_KEY",
	"kev_url":             "KEV_URL",
	"epss_url":            "EPSS_URL",
	"mysql.dsn":           "QVT_MYSQL_DSN",
	"web.addr":            "QVT_WEB_ADDR",
	"web.auth.user":       "QVT_WEB_USER",
	"web.auth.password":   "QVT_WEB_PASSWORD",
	"web.auth.token":      "QVT_WEB_TOKEN",
	"jira.url":            "JIRA_URL",
	"jira.user":           "JIRA_USER",
	"jira.token":          "JIRA_TOKEN",
	"jira.project":        "JIRA_PROJECT",
	"assets.url":          "ASSETS_URL",
	"assets.workspace_id": "ASSETS_WORKSPACE_ID",
	"assets.schema":       "ASSETS_SCHEMA",
	"assets.jira_url":     "JIRA_URL",
	"assets.user":         "JIRA_USER",
	"assets.token":        "JIRA_TOKEN",
}

// ConfigInput is where the configuration comes from.
type ConfigInput struct {
	Path       string // the file (--config or QVT_CONFIG); "" for none
	PathSource string // "--config" or "QVT_CONFIG"
	DBFlag     string // --db, when given
	Getenv     func(string) string
}

// Configuration loads the configuration as qvt's commands do and reports
// the file, then each value set (secrets masked) with where it came from:
// a flag, the environment, the file or the default. It returns nil with a
// failed check when the configuration does not load.
func Configuration(in ConfigInput) (*config.Config, []Check) {
	var checks []Check
	var fileKeys map[string]bool
	if in.Path == "" {
		checks = append(checks, ok("config", "no configuration file (--config or QVT_CONFIG): defaults and the environment"))
	} else {
		fi, err := os.Stat(in.Path)
		if err != nil {
			return nil, append(checks, fail("config", "fix "+in.PathSource+" or create the file", "configuration file %s (%s): %v", in.Path, in.PathSource, unwrapPath(err)))
		}
		data, err := os.ReadFile(in.Path)
		if err != nil {
			return nil, append(checks, fail("config", "make it readable by the user that runs qvt", "configuration file %s: %v", in.Path, unwrapPath(err)))
		}
		checks = append(checks, ok("config", "configuration file %s (%s)", in.Path, in.PathSource))
		fileKeys = yamlKeys(data)
		if hasSecret(fileKeys) {
			checks = append(checks, Permissions("config", "configuration file", in.Path, "it holds secrets", fi.Mode()))
		}
	}
	cfg, err := config.Load(in.Path, in.Getenv)
	if err != nil {
		return nil, append(checks, fail("config", "correct the value named; qvt doctor checks the rest once the configuration loads", "%v", err))
	}
	if in.DBFlag != "" {
		cfg.DB = in.DBFlag
	}
	for _, v := range settings(cfg) {
		src := "default"
		switch {
		case v.path == "db" && in.DBFlag != "":
			src = "flag --db"
		case envNames[v.path] != "" && in.Getenv(envNames[v.path]) != "":
			src = "environment " + envNames[v.path]
		case fileKeys[v.path]:
			src = "file"
		}
		checks = append(checks, ok("config", "%s = %s (%s)", v.path, v.value, src))
	}
	return cfg, checks
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func hasSecret(keys map[string]bool) bool {
	for k := range keys {
		if isSecretKey(k) {
			return true
		}
	}
	return false
}

// yamlKeys lists the key paths a YAML document sets (qualys.password,
// scoring.sla_days, ...), walking the mappings; a sequence is one key.
func yamlKeys(data []byte) map[string]bool {
	keys := map[string]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return keys
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(n.Alias, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				keys[k] = true
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(&doc, "")
	return keys
}

// setting is one configuration value as shown.
type setting struct{ path, value string }

// settings lists the configuration's values down to the second level
// (deeper structures, lists and maps are shown inline), leaving out
// those that are empty. Secrets are masked, both as config.String masks
// them and by their key's name.
func settings(cfg *config.Config) []setting {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(cfg.String()), &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	var out []setting
	var walk func(n *yaml.Node, prefix string, depth int)
	walk = func(n *yaml.Node, prefix string, depth int) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if prefix != "" {
				k = prefix + "." + k
			}
			if v.Kind == yaml.MappingNode && (depth < 2 || k == "web.auth") {
				walk(v, k, depth+1)
				continue
			}
			if empty(v) {
				continue
			}
			out = append(out, setting{k, showValue(k, v, cfg)})
		}
	}
	walk(doc.Content[0], "", 1)
	return out
}

// empty tells a value nobody set: "", 0, false, null, [] or {}.
func empty(v *yaml.Node) bool {
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Tag == "!!null" || v.Value == "" || v.Value == "0" || v.Value == "false" || v.Value == `""`
	case yaml.SequenceNode, yaml.MappingNode:
		return len(v.Content) == 0
	}
	return false
}

const masked = "[masked]"

// showValue renders a value on one line, short, secrets masked.
func showValue(path string, v *yaml.Node, cfg *config.Config) string {
	if isSecretKey(path) {
		return masked
	}
	if path == "mysql.dsn" {
		return maskDSN(cfg.MySQL.DSN)
	}
	if path == "db" {
		// A PostgreSQL URL may hold its password.
		return shorten(store.Shown(cfg.DB))
	}
	if v.Kind == yaml.ScalarNode {
		return shorten(v.Value)
	}
	// Inline the structure as YAML flow: {a: 1, b: [x, y]}.
	c := *v
	setFlow(&c)
	b, err := yaml.Marshal(&c)
	if err != nil {
		return "?"
	}
	return shorten(strings.TrimSpace(string(b)))
}

func setFlow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for i, c := range n.Content {
		cc := *c
		setFlow(&cc)
		n.Content[i] = &cc
	}
}

func shorten(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > 100 {
		return string(r[:99]) + "…"
	}
	return s
}

// maskDSN shows a MySQL DSN with its password masked, or only that it is
// set when it does not parse (its text could hold the password anywhere).
func maskDSN(dsn string) string {
	c, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return masked + " (does not parse: " + dsnError(err) + ")"
	}
	if c.Passwd != "" {
		const mark = "qvt-doctor-masked"
		c.Passwd = mark
		return strings.Replace(c.FormatDSN(), ":"+mark+"@", ":"+masked+"@", 1)
	}
	return c.FormatDSN()
}

// dsnError is the driver's parse error without the DSN it may quote.
func dsnError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ":"); i > 0 {
		msg = msg[:i]
	}
	return msg
}
