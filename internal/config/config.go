// Package config holds qvt's configuration: a YAML file (path from
// --config or QVT_CONFIG), overridden by environment variables, overridden
// by flags. It is read and validated once, then passed down explicitly.
// Secrets are never printed: String redacts them.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"reflect"
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"go.yaml.in/yaml/v3"

	"qvt/internal/assess"
	"qvt/internal/environment"
	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/notify"
	"qvt/internal/priority"
	"qvt/internal/publish/assets"
	"qvt/internal/publish/jira"
	"qvt/internal/publish/mysql"
	"qvt/internal/schedule"
	"qvt/internal/web"
)

// Config is the whole configuration.
type Config struct {
	DB             string            `yaml:"db"` // SQLite file path (default ./qvt.db)
	Qualys         Qualys            `yaml:"qualys"`
	NVD            NVD               `yaml:"nvd"`
	KEVURL         string            `yaml:"kev_url"`  // KEV_URL: CISA's KEV catalog (JSON)
	EPSSURL        string            `yaml:"epss_url"` // EPSS_URL: FIRST's daily EPSS scores (CSV, gzip)
	Scoring        Scoring           `yaml:"scoring"`
	PriorityPolicy priority.Policy   `yaml:"priority"`     // docs: priority.md; read it through Priority()
	Environments   environment.Set   `yaml:"environments"` // CVSS environmental metrics by host
	Owners         owners.Set        `yaml:"owners"`       // who fixes what: ordered rules, first match wins
	Exceptions     exceptions.Policy `yaml:"exceptions"`   // expiry limits and what an exception does in Jira
	MySQL          mysql.Config      `yaml:"mysql"`
	Jira           jira.Config       `yaml:"jira"`
	Assets         assets.Config     `yaml:"assets"`
	Web            web.Config        `yaml:"web"` // the dashboard (qvt serve)
	Limits         Limits            `yaml:"limits"`
	Schedule       schedule.Config   `yaml:"schedule"` // qvt serve's runs of the daily job
	Notify         notify.Config     `yaml:"notify"`   // who hears what a run changed
}

// Qualys is how to reach the Qualys API.
type Qualys struct {
	APIURL   string `yaml:"api_url"`  // QUALYS_API_URL
	Platform string `yaml:"platform"` // QUALYS_PLATFORM, e.g. EU1
	Username string `yaml:"username"` // QUALYS_USERNAME
	Password string `yaml:"password"` // QUALYS_PASSWORD (secret)
}

// NVD is how to reach the NVD API.
type NVD struct {
	APIURL string `yaml:"api_url"` // NVD_API_URL
	APIKey string `yaml:"api_key"` // NVD_API_KEY (secret)
}

// Scoring is the scoring policy (docs/findings.md, "Scoring policy").
type Scoring struct {
	VectorOrder        []string       `yaml:"vector_order"`          // default kb_v3, nvd_v3, nvd_v4, kb_v2, nvd_v2
	RatingFrom         string         `yaml:"rating_from"`           // env (default), temporal, base, severity
	SLADays            map[string]int `yaml:"sla_days"`              // rating → days; default Critical 15, High 30, Medium 90, Low 180
	SLAFrom            string         `yaml:"sla_from"`              // first_found (default) or published (the QID's KB publication)
	SLARestartOnReopen bool           `yaml:"sla_restart_on_reopen"` // a reopened finding gets its full time again from the reopening
}

// Default is the configuration with nothing set.
func Default() *Config {
	p := assess.DefaultPolicy()
	return &Config{
		DB: "qvt.db",
		NVD: NVD{
			APIURL: "https://services.nvd.nist.gov/rest/json/cves/2.0",
		},
		KEVURL:  DefaultKEVURL,
		EPSSURL: DefaultEPSSURL,
		Scoring: Scoring{
			VectorOrder: p.VectorOrder,
			RatingFrom:  p.RatingFrom,
			SLADays:     p.SLADays,
		},
		PriorityPolicy: priority.Default(),
		Exceptions:     exceptions.DefaultPolicy(),
		Limits:         DefaultLimits(),
	}
}

// The feeds' default addresses.
const (
	DefaultKEVURL  = kev.DefaultURL
	DefaultEPSSURL = epss.DefaultURL
)

// Load reads the configuration: defaults, then the file at path (if path
// is not empty), then the environment (getenv).
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.parse(data); err != nil {
			var fe *FileError
			if errors.As(err, &fe) {
				fe.File = path
			}
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	c.applyEnv(getenv)
	if v := getenv("QVT_WEB_READY_MAX_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("config: QVT_WEB_READY_MAX_AGE %q: want a duration, e.g. 26h or 90m (negative: not checked)", v)
		}
		c.Web.ReadyMaxAge = d
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// parse reads the file's text into c. Its errors are *FileError: a line,
// a key and what is wrong, never the value written there.
func (c *Config) parse(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return syntaxError(err)
	}
	lines, err := checkFile(&doc, reflect.TypeOf(c).Elem())
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a silent default
	// A map in the file replaces the default rather than merging into it.
	// So do priority.rules and priority.days, each on its own: a file
	// that sets only the days keeps the default rules.
	defDays := c.Scoring.SLADays
	defPrio := c.PriorityPolicy
	c.Scoring.SLADays = nil
	c.PriorityPolicy = priority.Policy{}
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return decodeError(err, lines)
	}
	if c.Scoring.SLADays == nil {
		c.Scoring.SLADays = defDays
	}
	if c.PriorityPolicy.Rules == nil {
		c.PriorityPolicy.Rules = defPrio.Rules
	}
	if c.PriorityPolicy.Days == nil {
		c.PriorityPolicy.Days = defPrio.Days
	}
	return nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.DB, "QVT_DB")
	set(&c.Qualys.APIURL, "QUALYS_API_URL")
	set(&c.Qualys.Platform, "QUALYS_PLATFORM")
	set(&c.Qualys.Username, "QUALYS_USERNAME")
	set(&c.Qualys.Password, "QUALYS_PASSWORD")
	set(&c.NVD.APIURL, "NVD_API_URL")
	set(&c.NVD.APIKey, "NVD_API_KEY")
	set(&c.KEVURL, "KEV_URL")
	set(&c.EPSSURL, "EPSS_URL")
	set(&c.MySQL.DSN, "QVT_MYSQL_DSN")
	set(&c.Web.Addr, "QVT_WEB_ADDR")
	set(&c.Web.Auth.User, "QVT_WEB_USER")
	set(&c.Web.Auth.Password, "QVT_WEB_PASSWORD")
	set(&c.Web.Auth.Token, "QVT_WEB_TOKEN")
	set(&c.Web.TLSCert, "QVT_WEB_TLS_CERT")
	set(&c.Web.TLSKey, "QVT_WEB_TLS_KEY")
	set(&c.Web.PublicURL, "QVT_WEB_PUBLIC_URL")
	set(&c.Notify.Slack.WebhookURL, "QVT_SLACK_WEBHOOK_URL")
	set(&c.Notify.Teams.WebhookURL, "QVT_TEAMS_WEBHOOK_URL")
	set(&c.Notify.Webhook.URL, "QVT_WEBHOOK_URL")
	set(&c.Notify.Webhook.Secret, "QVT_WEBHOOK_SECRET")
	set(&c.Notify.Email.Password, "QVT_SMTP_PASSWORD")
	set(&c.Schedule.Run, "QVT_SCHEDULE")
	set(&c.Schedule.Timezone, "QVT_SCHEDULE_TZ")
	if v := getenv("QVT_WEB_HOSTS"); v != "" {
		c.Web.Hosts = nil
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.Web.Hosts = append(c.Web.Hosts, h)
			}
		}
	}
	c.Jira.FromEnv(getenv)
	c.Assets.FromEnv(getenv)
}

// Policy is the scoring policy the configuration describes.
func (c *Config) Policy() assess.Policy {
	return assess.Policy{
		VectorOrder:        slices.Clone(c.Scoring.VectorOrder),
		RatingFrom:         c.Scoring.RatingFrom,
		SLADays:            maps.Clone(c.Scoring.SLADays),
		SLAFrom:            c.Scoring.SLAFrom,
		SLARestartOnReopen: c.Scoring.SLARestartOnReopen,
	}
}

// Priority is the priority policy the configuration describes: the
// contract's defaults where the file sets no priority section, rules or
// days. It is a copy the caller may keep.
func (c *Config) Priority() priority.Policy {
	return c.PriorityPolicy.Normalize()
}

// Validate checks the configuration as a whole.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DB) == "" {
		return errors.New("db: empty path")
	}
	// Title-case the ratings of sla_days so "high: 14" works.
	days := map[string]int{}
	for r, d := range c.Scoring.SLADays {
		if len(r) > 0 {
			r = strings.ToUpper(r[:1]) + strings.ToLower(r[1:])
		}
		days[r] = d
	}
	c.Scoring.SLADays = days
	if err := c.Limits.check(); err != nil {
		return err
	}
	if err := c.Policy().Validate(); err != nil {
		return err
	}
	// "p1" and "high" are read as P1 and High, as sla_days' ratings are.
	c.PriorityPolicy = c.PriorityPolicy.Normalize()
	if err := c.PriorityPolicy.Validate(); err != nil {
		return err
	}
	for _, u := range []struct{ key, env, v string }{{"kev_url", "KEV_URL", c.KEVURL}, {"epss_url", "EPSS_URL", c.EPSSURL}} {
		if err := checkFeedURL(u.v); err != nil {
			return fmt.Errorf("%s (%s): %w", u.env, u.key, err)
		}
	}
	if err := c.checkJiraPriorities(); err != nil {
		return err
	}
	if err := c.Owners.Validate(); err != nil {
		return err
	}
	if err := c.Notify.Validate(); err != nil {
		return err
	}
	if c.Web.PublicURL != "" {
		if err := checkFeedURL(c.Web.PublicURL); err != nil {
			return fmt.Errorf("web.public_url (QVT_WEB_PUBLIC_URL): %w", err)
		}
	}
	for _, r := range c.Owners {
		if err := notify.CheckContact(fmt.Sprintf("owner %q", r.Name), r.Contact.Email, r.Contact.SlackWebhook); err != nil {
			return err
		}
	}
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	c.Exceptions = c.Exceptions.WithDefaults()
	if err := c.Exceptions.Validate(); err != nil {
		return err
	}
	return c.Environments.Validate()
}

// checkFeedURL accepts the address of a feed: http or https, with a
// host, and no user or password (the feeds are public: a credential
// there would be sent to whoever serves them). Its errors do not quote
// the address.
func checkFeedURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return errors.New("want an http or https URL")
	case u.User != nil:
		return errors.New("the URL holds a user or password; the feed is public")
	}
	return nil
}

// checkJiraPriorities reads jira.priorities, the Jira priority of each of
// qvt's priorities: keys P1 to P4 in any case, names not empty.
func (c *Config) checkJiraPriorities() error {
	if c.Jira.Priorities == nil {
		return nil
	}
	m := make(map[string]string, len(c.Jira.Priorities))
	for _, k := range slices.Sorted(maps.Keys(c.Jira.Priorities)) {
		v := strings.TrimSpace(c.Jira.Priorities[k])
		p := strings.ToUpper(strings.TrimSpace(k))
		if priority.Rank(p) >= len(priority.Priorities) {
			return fmt.Errorf("jira.priorities: %q is not a priority (%s)", k, strings.Join(priority.Priorities, ", "))
		}
		if _, dup := m[p]; dup {
			return fmt.Errorf("jira.priorities: %s is given twice", p)
		}
		if v == "" {
			return fmt.Errorf("jira.priorities: %s: empty name", p)
		}
		m[p] = v
	}
	c.Jira.Priorities = m
	return nil
}

const redacted = "[REDACTED]"

// String prints the configuration as YAML with secrets redacted.
func (c *Config) String() string {
	cp := *c
	for _, p := range []*string{&cp.Qualys.Password, &cp.NVD.APIKey, &cp.Jira.Token, &cp.Assets.Token, &cp.Web.Auth.Password, &cp.Web.Auth.Token,
		&cp.Notify.Slack.WebhookURL, &cp.Notify.Teams.WebhookURL, &cp.Notify.Webhook.URL, &cp.Notify.Webhook.Secret, &cp.Notify.Email.Password} {
		if *p != "" {
			*p = redacted
		}
	}
	cp.Owners = slices.Clone(cp.Owners)
	for i := range cp.Owners {
		if cp.Owners[i].Contact.SlackWebhook != "" {
			cp.Owners[i].Contact.SlackWebhook = redacted
		}
	}
	if pw := dsnPassword(cp.MySQL.DSN); pw != "" {
		cp.MySQL.DSN = strings.Replace(cp.MySQL.DSN, ":"+pw+"@", ":"+redacted+"@", 1)
	}
	out, err := yaml.Marshal(&cp)
	if err != nil {
		return "config: " + err.Error()
	}
	return string(out)
}

// Secrets lists the secret values set, for log redaction.
func (c *Config) Secrets() []string {
	var s []string
	for _, v := range []string{c.Qualys.Password, c.NVD.APIKey, c.Jira.Token, c.Assets.Token, c.Web.Auth.Password, c.Web.Auth.Token, dsnPassword(c.MySQL.DSN),
		c.Notify.Slack.WebhookURL, c.Notify.Teams.WebhookURL, c.Notify.Webhook.URL, c.Notify.Webhook.Secret, c.Notify.Email.Password} {
		if v != "" {
			s = append(s, v)
		}
	}
	for _, r := range c.Owners {
		if v := r.Contact.SlackWebhook; v != "" {
			s = append(s, v)
		}
	}
	return s
}

// dsnPassword is the password of a MySQL DSN (user:password@tcp(...)/db).
func dsnPassword(dsn string) string {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil || dsn == "" {
		return ""
	}
	return cfg.Passwd
}
