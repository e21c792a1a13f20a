package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"qvt/internal/owners"
)

// The notify: section's secrets come from the file or the environment,
// are listed for the log's redaction and never printed; bad values are
// refused naming the key, not the secret.
func TestNotifyConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "qvt.yaml")
	os.WriteFile(file, []byte(`
notify:
  teams: {webhook_url: "https://example.powerautomate.com/workflows/teams-sig-secret"}
  email: {smtp: "smtp.corp.example:587", from: "qvt@corp.example", to: [sec@corp.example], username: qvt}
owners:
  - {name: Payments, tags: [PCI], contact: {email: pay@corp.example, slack_webhook: "https://hooks.slack.com/services/T/B/owner-slack-secret"}}
`), 0o600)
	vars := map[string]string{
		"QVT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/slack-url-secret",
		"QVT_WEBHOOK_URL":       "https://siem.corp.example/qvt?token=hook-url-secret",
		"QVT_WEBHOOK_SECRET":    "hmac-key-secret",
		"QVT_SMTP_PASSWORD":     "smtp-pw-secret",
		"QVT_WEB_PUBLIC_URL":    "https://qvt.corp.example",
	}
	c, err := Load(file, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if c.Notify.Slack.WebhookURL != vars["QVT_SLACK_WEBHOOK_URL"] || c.Notify.Email.Password != "smtp-pw-secret" || c.Web.PublicURL != "https://qvt.corp.example" {
		t.Errorf("environment not applied: %+v", c.Notify)
	}
	secrets := []string{"teams-sig-secret", "owner-slack-secret", "slack-url-secret", "hook-url-secret", "hmac-key-secret", "smtp-pw-secret"}
	s := c.String()
	got := strings.Join(c.Secrets(), "\n")
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("String() shows %s", sec)
		}
		if !strings.Contains(got, sec) {
			t.Errorf("Secrets() lacks %s", sec)
		}
	}
	if !slices.ContainsFunc(c.Owners, func(r owners.Rule) bool { return r.Contact.SlackWebhook != "" }) {
		t.Error("String() changed the configuration's owners")
	}

	for _, bad := range []struct{ file, want string }{
		{`notify: {slack: {webhook_url: "http://hooks.slack.com/services/x-secret"}}`, "notify.slack.webhook_url"},
		{`notify: {webhook: {url: "https://siem.corp.example/x-secret"}}`, "notify.webhook.secret"},
		{`notify: {email: {smtp: "smtp.corp.example", from: "q@corp.example"}}`, "notify.email.smtp"},
		{`owners: [{name: Pay, default: true, contact: {email: "not an address"}}]`, `owner "Pay": contact.email`},
		{`owners: [{name: Pay, default: true, contact: {slack_webhook: "ftp://x-secret"}}]`, `owner "Pay": contact.slack_webhook`},
		{`web: {public_url: "qvt.corp.example"}`, "web.public_url"},
	} {
		os.WriteFile(file, []byte(bad.file), 0o600)
		_, err := Load(file, env(nil))
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "x-secret") {
			t.Errorf("%s: %v, want %s and no secret", bad.file, err, bad.want)
		}
	}
}
