package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"qvt/internal/redact"
	"qvt/internal/retry"
)

// Sender delivers messages to one channel.
type Sender interface {
	// Channel names the channel without its secret address: "slack",
	// "teams", "webhook", "email", or "slack:Payments" for an owner's.
	Channel() string
	Send(ctx context.Context, m Message) error
}

// Limits of a delivery.
const (
	attempts    = 4                // tries of one message, the first included
	sendTimeout = 30 * time.Second // one request, connection to response
	maxWait     = 2 * time.Minute  // the longest Retry-After obeyed; longer fails
	slackEvery  = time.Second      // Slack posts about one message a second per webhook
)

// Timing is the clock of the senders, replaced by tests.
type Timing struct {
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (t Timing) orDefault() Timing {
	if t.Now == nil {
		t.Now = time.Now
	}
	if t.Sleep == nil {
		t.Sleep = retry.Sleep
	}
	return t
}

// pacer spaces the messages to one address: each waits until every
// passed since the one before.
type pacer struct {
	mu    sync.Mutex
	every time.Duration
	next  time.Time
	t     Timing
}

func (p *pacer) wait(ctx context.Context) error {
	if p == nil || p.every <= 0 {
		return nil
	}
	p.mu.Lock()
	now := p.t.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	return p.t.Sleep(ctx, at.Sub(now))
}

// Hook posts JSON to a webhook: Slack, Teams or the generic one.
type Hook struct {
	channel string // what errors and logs call it: never the URL
	url     string
	secret  string   // the generic webhook's HMAC key
	secrets []string // what errors must not quote: the URL, its path and query, the key
	render  func(Message) ([]byte, error)
	client  *http.Client
	pace    *pacer
	t       Timing
}

// NewHook is a sender to url. channel is how it is named (the URL is a
// secret); kind is slack, teams or webhook and chooses the payload.
func NewHook(kind, channel, url, secret string, client *http.Client, t Timing) *Hook {
	t = t.orDefault()
	h := &Hook{channel: channel, url: url, secret: secret, t: t, client: client, secrets: hookSecrets(url, secret)}
	switch kind {
	case "slack":
		h.render, h.pace = RenderSlack, &pacer{every: slackEvery, t: t}
	case "teams":
		h.render = RenderTeams
	default:
		h.render = RenderWebhook
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: sendTimeout}
	}
	// A redirect would carry the body, and a webhook's address is its
	// credential: none is followed.
	c := *h.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 {
		c.Timeout = sendTimeout
	}
	h.client = &c
	return h
}

// hookSecrets are the parts of a webhook's address that carry its
// credential (a server's error may echo its path), and the HMAC key.
func hookSecrets(raw, secret string) []string {
	s := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		for _, p := range []string{u.EscapedPath(), strings.Trim(u.EscapedPath(), "/"), u.RawQuery} {
			if len(p) > 1 {
				s = append(s, p)
			}
		}
	}
	if secret != "" {
		s = append(s, secret)
	}
	return s
}

// Channel names the hook.
func (h *Hook) Channel() string { return h.channel }

// Sign is the X-Qvt-Signature of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts m, retrying a rate limit, a server error or a network
// failure; its errors name the channel, never its address.
func (h *Hook) Send(ctx context.Context, m Message) error {
	body, err := h.render(m)
	if err != nil {
		return fmt.Errorf("%s: %w", h.channel, err)
	}
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		if err := h.pace.wait(ctx); err != nil {
			return fmt.Errorf("%s: %w", h.channel, err)
		}
		wait, err := h.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if wait < 0 || attempt == attempts {
			break
		}
		if wait == 0 {
			wait = retry.Backoff(time.Second, 30*time.Second, attempt)
		}
		if wait > maxWait {
			last = fmt.Errorf("%w; the server asks to wait %s", err, wait.Round(time.Second))
			break
		}
		if err := h.t.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w (%w)", h.channel, last, err)
		}
	}
	return fmt.Errorf("%s: %w", h.channel, last)
}

// post makes one try. The wait says what next: -1 give up, 0 retry after
// a backoff, more retry after that long (Retry-After).
func (h *Hook) post(ctx context.Context, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return -1, errors.New("bad webhook address") // the parse error would quote it
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "qvt")
	if h.secret != "" {
		req.Header.Set("X-Qvt-Signature", Sign(h.secret, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		// *url.Error quotes the address: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post: %s", redact.String(err.Error(), h.secrets))
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	msg := strings.TrimSpace(string(text))
	msg = redact.String(clip(strings.ToValidUTF8(msg, "?"), 200), h.secrets)
	err = fmt.Errorf("HTTP %d", resp.StatusCode)
	if msg != "" {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return retryAfter(resp.Header.Get("Retry-After"), h.t.Now()), err
	}
	return -1, err
}

// retryAfter reads a Retry-After header, seconds or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, time.Millisecond)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Millisecond)
	}
	return 0
}
