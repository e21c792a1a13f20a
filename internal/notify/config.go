// Package notify tells people what a run of qvt changed, and which
// exceptions are about to expire: Slack, Microsoft Teams, a signed JSON
// webhook and e-mail.
package notify

// Config is the notify: section. Webhook URLs carry their own credentials
// (Slack's and Teams' are bearer secrets), so all of them are secrets.
type Config struct {
	Slack   Slack   `yaml:"slack"`
	Teams   Teams   `yaml:"teams"`
	Webhook Webhook `yaml:"webhook"`
	Email   Email   `yaml:"email"`
}

// Slack is an incoming webhook.
type Slack struct {
	WebhookURL string `yaml:"webhook_url"` // secret
}

// Teams is a Teams Workflows webhook ("Send webhook alerts to a channel").
type Teams struct {
	WebhookURL string `yaml:"webhook_url"` // secret
}

// Webhook is a generic JSON webhook; the body is signed with Secret in
// the header X-Qvt-Signature: sha256=<hex HMAC-SHA256 of the body>.
type Webhook struct {
	URL    string `yaml:"url"`    // secret (it may carry a token)
	Secret string `yaml:"secret"` // secret
}

// Email is SMTP with STARTTLS (or implicit TLS on port 465) and auth.
type Email struct {
	SMTP     string   `yaml:"smtp"` // host:port
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"` // secret
}
