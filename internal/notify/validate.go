package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// Validate checks the notify: section. Its errors name the key, never
// the value: webhook addresses are secrets.
func (c Config) Validate() error {
	for _, u := range []struct{ key, v string }{
		{"notify.slack.webhook_url", c.Slack.WebhookURL},
		{"notify.teams.webhook_url", c.Teams.WebhookURL},
		{"notify.webhook.url", c.Webhook.URL},
	} {
		if u.v == "" {
			continue
		}
		if err := CheckHookURL(u.v); err != nil {
			return fmt.Errorf("%s: %w", u.key, err)
		}
	}
	if c.Webhook.URL != "" && c.Webhook.Secret == "" {
		return errors.New("notify.webhook.secret: empty: the webhook's body is signed with it (QVT_WEBHOOK_SECRET)")
	}
	if c.Webhook.URL == "" && c.Webhook.Secret != "" {
		return errors.New("notify.webhook.secret is set but notify.webhook.url is not")
	}
	return c.Email.validate()
}

func (e Email) validate() error {
	if e.SMTP == "" && e.From == "" && len(e.To) == 0 && e.Username == "" && e.Password == "" {
		return nil
	}
	if err := CheckSMTP(e.SMTP); err != nil {
		return fmt.Errorf("notify.email.smtp: %w", err)
	}
	if _, err := mail.ParseAddress(e.From); err != nil {
		return fmt.Errorf("notify.email.from: %q is not an e-mail address", e.From)
	}
	for i, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("notify.email.to[%d]: %q is not an e-mail address", i, to)
		}
	}
	if (e.Username == "") != (e.Password == "") {
		return errors.New("notify.email: give both username and password (QVT_SMTP_PASSWORD), or neither")
	}
	return nil
}

// CheckSMTP accepts host:port.
func CheckSMTP(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q: want host:port, e.g. smtp.corp.example:587", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: the port is not a number from 1 to 65535", s)
	}
	return nil
}

// CheckHookURL accepts a webhook's address: https, or http to a loopback
// host (a relay on the same machine). Its errors do not quote it.
func CheckHookURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not a URL (want https://...)")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("http sends the webhook's secret address in clear: want https (http only to a loopback host)")
	}
	return errors.New("want an https URL")
}

// CheckContact checks what an owner's contact gives for notifications;
// where is the owner, for the error.
func CheckContact(where, email, slackWebhook string) error {
	if email != "" {
		if _, err := mail.ParseAddress(email); err != nil {
			return fmt.Errorf("%s: contact.email: %q is not an e-mail address", where, email)
		}
	}
	if slackWebhook != "" {
		if err := CheckHookURL(slackWebhook); err != nil {
			return fmt.Errorf("%s: contact.slack_webhook: %w", where, err)
		}
	}
	return nil
}
