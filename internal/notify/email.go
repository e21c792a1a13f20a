package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"qvt/internal/redact"
	"qvt/internal/retry"
)

// Mailer sends messages over SMTP: STARTTLS on any port but 465, where
// the connection is TLS from the start; the password is sent (AUTH
// PLAIN) only over TLS. It never falls back to plain text.
type Mailer struct {
	channel string
	cfg     Email
	to      []string
	// TLS is the TLS configuration (tests give their CA); nil: the
	// system's roots, the server name from cfg.SMTP.
	TLS *tls.Config
	t   Timing
	// implicit: TLS from the first byte (port 465, "SMTPS"), else STARTTLS.
	implicit bool
}

// NewMailer sends to, or to cfg.To when to is empty.
func NewMailer(channel string, cfg Email, to []string, t Timing) *Mailer {
	if len(to) == 0 {
		to = cfg.To
	}
	_, port, _ := net.SplitHostPort(cfg.SMTP)
	return &Mailer{channel: channel, cfg: cfg, to: to, t: t.orDefault(), implicit: port == "465"}
}

// Channel names the mailer.
func (m *Mailer) Channel() string { return m.channel }

// Send delivers msg, retrying a failure to connect or a temporary (4xx)
// refusal.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	data, err := RenderEmail(msg, m.cfg.From, m.to)
	if err != nil {
		return fmt.Errorf("%s: %w", m.channel, err)
	}
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		var temporary bool
		temporary, last = m.send(ctx, data)
		if last == nil {
			return nil
		}
		if !temporary || attempt == attempts || ctx.Err() != nil {
			break
		}
		if err := m.t.Sleep(ctx, backoff(attempt)); err != nil {
			break
		}
	}
	return fmt.Errorf("%s: %s", m.channel, redact.String(last.Error(), []string{m.cfg.Password}))
}

func backoff(attempt int) time.Duration { return retry.Backoff(time.Second, 30*time.Second, attempt) }

// send makes one try; temporary says a retry may succeed.
func (m *Mailer) send(ctx context.Context, data []byte) (temporary bool, err error) {
	host, _, err := net.SplitHostPort(m.cfg.SMTP)
	if err != nil {
		return false, fmt.Errorf("smtp: want host:port")
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if m.TLS != nil {
		tc = m.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = host
		}
	}
	d := net.Dialer{Timeout: sendTimeout}
	conn, err := d.DialContext(ctx, "tcp", m.cfg.SMTP)
	if err != nil {
		return true, fmt.Errorf("smtp: connect: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * sendTimeout)) // the network's clock, not the injected one
	if m.implicit {
		conn = tls.Client(conn, tc)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpTemporary(err), fmt.Errorf("smtp: greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("qvt"); err != nil {
		return smtpTemporary(err), fmt.Errorf("smtp: EHLO: %w", err)
	}
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return false, errors.New("smtp: the server offers no STARTTLS; qvt does not send mail in plain text")
		}
		if err := c.StartTLS(tc); err != nil {
			return false, fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	}
	if m.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return false, errors.New("smtp: the server offers no AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, host)); err != nil {
			return smtpTemporary(err), fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(addrOnly(m.cfg.From)); err != nil {
		return smtpTemporary(err), fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(addrOnly(to)); err != nil {
			return smtpTemporary(err), fmt.Errorf("smtp: RCPT TO %s: %w", addrOnly(to), err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpTemporary(err), fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return true, fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return smtpTemporary(err), fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the end of DATA.
		return false, nil
	}
	return false, nil
}

// smtpTemporary tells a 4xx reply or a broken connection from a
// permanent refusal (5xx).
func smtpTemporary(err error) bool {
	s := err.Error()
	return !(len(s) >= 3 && s[0] == '5' && s[1] >= '0' && s[1] <= '9')
}

// addrOnly is the address of "Name <addr>" (the envelope takes the
// address alone), or s when it does not parse (the configuration's check
// refuses that).
func addrOnly(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}
