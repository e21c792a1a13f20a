package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/notify/smtptest"
	"qvt/internal/runs"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)

func failedRun() runs.Report {
	return runs.Report{ID: 42, RunID: "r-1205", Trigger: runs.TriggerSchedule, Started: t0, Finished: t0.Add(3 * time.Minute),
		Status: runs.StatusFailed, Err: "kev: network: connection refused",
		Phases:  []runs.Phase{{Name: "detections", Records: 1200}, {Name: "kev", Err: "network: connection refused", ErrKind: "network"}},
		Changes: runs.Changes{New: map[string]int{"P2": 5, "P1": 2}, NewKEV: 1, Fixed: 3, Reopened: 1, NewlyOverdue: 2}}
}

// messages are the golden files' messages.
func messages() map[string]Message {
	r := failedRun()
	return map[string]Message{
		"run":      RunMessage(r, "https://qvt.corp.example/"),
		"owner":    OwnerMessage(r, "Payments", runs.Changes{New: map[string]int{"High": 1}, Fixed: 1}, "https://qvt.corp.example"),
		"expiring": ExpiringMessage([]Expiring{{Name: "EXC-3", Until: "2026-12-20", Covered: 4, Reason: "vendor patch in January <maybe>"}}, 30, t0, "https://qvt.corp.example"),
		"nolinks":  RunMessage(r, ""),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

// Each channel's payload for each kind of message is the one in
// testdata, which a reader can check against the channel's documentation.
func TestPayloads(t *testing.T) {
	renders := map[string]func(Message) ([]byte, error){"slack": RenderSlack, "teams": RenderTeams, "webhook": RenderWebhook}
	for mname, m := range messages() {
		for rname, render := range renders {
			t.Run(rname+"_"+mname, func(t *testing.T) {
				b, err := render(m)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, rname+"_"+mname+".json", indent(t, b))
			})
		}
		t.Run("email_"+mname, func(t *testing.T) {
			b, err := RenderEmail(m, "qvt <qvt@corp.example>", []string{"sec@corp.example"})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "email_"+mname+".eml", b)
		})
	}
}

// The payloads hold what the channels require: Slack's text fallback and
// blocks, Teams' Adaptive Card 1.4 in an attachment, the webhook's schema;
// links go to the dashboard's filters only when public_url is set.
func TestPayloadShapes(t *testing.T) {
	m := messages()["run"]
	var slack struct {
		Text   string
		Blocks []struct {
			Type     string
			Elements []struct{ URL string }
		}
	}
	b, _ := RenderSlack(m)
	if err := json.Unmarshal(b, &slack); err != nil || slack.Text == "" || len(slack.Blocks) != 3 || slack.Blocks[0].Type != "header" ||
		slack.Blocks[2].Elements[0].URL != "https://qvt.corp.example/findings" {
		t.Errorf("slack payload %s (%v)", b, err)
	}
	for _, want := range []string{"/findings?priority=P1", "/findings?kev=1", "/findings?due=overdue", "/findings?status=fixed", "7 new (2 P1, 5 P2)"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("slack payload lacks %s", want)
		}
	}
	var teams struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type, Version string
				Body          []map[string]any
			}
		}
	}
	b, _ = RenderTeams(m)
	if err := json.Unmarshal(b, &teams); err != nil || teams.Type != "message" || len(teams.Attachments) != 1 ||
		teams.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		teams.Attachments[0].Content.Type != "AdaptiveCard" || teams.Attachments[0].Content.Version != "1.4" {
		t.Errorf("teams payload %s (%v)", b, err)
	}
	owner := messages()["owner"]
	if u := owner.URL(); u != "https://qvt.corp.example/findings?owner=Payments" {
		t.Errorf("owner's link %s", u)
	}
	for name, render := range map[string]func(Message) ([]byte, error){"slack": RenderSlack, "teams": RenderTeams, "webhook": RenderWebhook} {
		b, _ := render(messages()["nolinks"])
		if bytes.Contains(b, []byte("qvt.corp.example")) {
			t.Errorf("%s links without public_url: %s", name, b)
		}
	}
}

// A run that succeeded and changed nothing tells nothing; one that failed
// always tells.
func TestEmpty(t *testing.T) {
	ok := runs.Report{RunID: "r", Status: runs.StatusOK, Started: t0, Finished: t0}
	for _, c := range []struct {
		name string
		m    Message
		want bool
	}{
		{"quiet run", RunMessage(ok, ""), true},
		{"run with a fix", OwnerMessage(ok, "A", runs.Changes{Fixed: 1}, ""), false},
		{"run with a new finding", OwnerMessage(ok, "A", runs.Changes{New: map[string]int{"P4": 1}}, ""), false},
		{"failed run", RunMessage(failedRun(), ""), false},
		{"no exception", ExpiringMessage(nil, 30, t0, ""), true},
	} {
		if got := c.m.Empty(); got != c.want {
			t.Errorf("%s: Empty() = %v", c.name, got)
		}
	}
}

// fakeTime is a clock that moves only when slept on.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeTime) timing() Timing {
	return Timing{
		Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sleeps = append(f.sleeps, d)
			f.now = f.now.Add(d)
			return ctx.Err()
		},
	}
}

// hookServer records the bodies posted, answering each in turn from
// replies (then 200 ok).
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	times   []time.Time
	replies []func(w http.ResponseWriter)
	clock   *fakeTime
}

func newHook(t *testing.T, clock *fakeTime, replies ...func(w http.ResponseWriter)) *hookServer {
	h := &hookServer{replies: replies, clock: clock}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.headers = append(h.headers, r.Header.Clone())
		if clock != nil {
			h.times = append(h.times, clock.timing().Now())
		}
		var reply func(http.ResponseWriter)
		if len(h.replies) > 0 {
			reply, h.replies = h.replies[0], h.replies[1:]
		}
		h.mu.Unlock()
		if reply != nil {
			reply(w)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.bodies) }

func status(code int, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, "rate_limited")
	}
}

// The generic webhook's body is signed: the receiver recomputes the HMAC
// of the body with the shared secret, as the README shows.
func TestWebhookSigned(t *testing.T) {
	srv := newHook(t, nil)
	h := NewHook("webhook", "webhook", srv.URL+"/hook", "shared-secret-123", nil, Timing{})
	if err := h.Send(context.Background(), messages()["run"]); err != nil {
		t.Fatal(err)
	}
	body, sig := srv.bodies[0], srv.headers[0].Get("X-Qvt-Signature")
	mac := hmac.New(sha256.New, []byte("shared-secret-123"))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("signature %q, want %q", sig, want)
	}
	var got WebhookBody
	if err := json.Unmarshal(body, &got); err != nil || got.Schema != "qvt.notify/v1" || got.Kind != KindRun || got.Run == nil ||
		got.Run.RunID != "r-1205" || got.Changes.New["P1"] != 2 || len(got.Failures) != 1 || got.Failures[0].Phase != "kev" {
		t.Errorf("body %s (%v)", body, err)
	}
	if ct := srv.headers[0].Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// Slack's 429 is retried after its Retry-After, and messages to one Slack
// webhook are a second apart at least.
func TestSlackRateLimit(t *testing.T) {
	clock := &fakeTime{now: t0}
	srv := newHook(t, clock, status(http.StatusTooManyRequests, "Retry-After", "7"))
	h := NewHook("slack", "slack", srv.URL, "", nil, clock.timing())
	for range 2 {
		if err := h.Send(context.Background(), messages()["run"]); err != nil {
			t.Fatal(err)
		}
	}
	if srv.count() != 3 {
		t.Fatalf("%d posts, want 3 (one refused, two delivered)", srv.count())
	}
	if !slices.Contains(clock.sleeps, 7*time.Second) {
		t.Errorf("sleeps %v: Retry-After 7 not obeyed", clock.sleeps)
	}
	if d := srv.times[1].Sub(srv.times[0]); d != 7*time.Second {
		t.Errorf("retry %s after the 429, want 7s", d)
	}
	if d := srv.times[2].Sub(srv.times[1]); d < time.Second {
		t.Errorf("second message %s after the first, want 1s at least", d)
	}
}

// A server error is retried a bounded number of times and then reported
// naming the channel, not its address; a 4xx other than 429 is not
// retried; a Retry-After too long fails at once instead of sleeping.
func TestHookErrors(t *testing.T) {
	always := func(code int, h ...string) []func(http.ResponseWriter) {
		var out []func(http.ResponseWriter)
		for range attempts + 2 {
			out = append(out, status(code, h...))
		}
		return out
	}
	for _, c := range []struct {
		name    string
		replies []func(http.ResponseWriter)
		posts   int
		want    string
	}{
		{"server down", always(http.StatusBadGateway), attempts, "HTTP 502"},
		{"bad payload", always(http.StatusBadRequest), 1, "HTTP 400"},
		{"long retry-after", always(http.StatusTooManyRequests, "Retry-After", "3600"), 1, "asks to wait 1h0m0s"},
		{"one blip", always(http.StatusServiceUnavailable)[:1], 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &fakeTime{now: t0}
			srv := newHook(t, clock, c.replies...)
			url := srv.URL + "/services/T000/B000/XXXXXXXXsecretpath"
			err := NewHook("teams", "teams", url, "", nil, clock.timing()).Send(context.Background(), messages()["run"])
			if srv.count() != c.posts {
				t.Errorf("%d posts, want %d", srv.count(), c.posts)
			}
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "teams: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want teams: ... %s", err, c.want)
			}
			if strings.Contains(err.Error(), "secretpath") || strings.Contains(err.Error(), srv.URL) {
				t.Errorf("the error quotes the webhook's address: %v", err)
			}
		})
	}
}

// A webhook that cannot be reached, or that echoes its address in its
// error, leaves the address out of the error.
func TestHookErrorsHideAddress(t *testing.T) {
	clock := &fakeTime{now: t0}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no_service for "+r.URL.Path)
	}))
	defer srv.Close()
	secret := "/services/T0001/B0001/abcdefghijklmnopqrstuvwx"
	err := NewHook("slack", "slack", srv.URL+secret, "", nil, clock.timing()).Send(context.Background(), messages()["run"])
	if err == nil || strings.Contains(err.Error(), "abcdefghijklmnopqrstuvwx") {
		t.Errorf("error %v", err)
	}
	srv.Close()
	err = NewHook("slack", "slack", srv.URL+secret, "", nil, clock.timing()).Send(context.Background(), messages()["run"])
	if err == nil || strings.Contains(err.Error(), "abcdefghijklmnopqrstuvwx") || !strings.HasPrefix(err.Error(), "slack: ") {
		t.Errorf("error %v", err)
	}
}

// The e-mail goes over STARTTLS with AUTH PLAIN to every recipient, as a
// multipart/alternative message with the summary in both parts and no
// secret anywhere.
func TestEmail(t *testing.T) {
	d := smtptest.New(t)
	cfg := Email{SMTP: d.Addr, From: "qvt <qvt@corp.example>", To: []string{"sec@corp.example", "Ops <ops@corp.example>"}, Username: "qvt", Password: "smtp-secret-pw"}
	m := NewMailer("email", cfg, nil, Timing{})
	m.TLS = d.TLS()
	if err := m.Send(context.Background(), messages()["run"]); err != nil {
		t.Fatal(err)
	}
	msgs := d.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	got := msgs[0]
	if !got.TLS || got.Auth != "qvt" || got.From != "qvt@corp.example" || !slices.Equal(got.To, []string{"sec@corp.example", "ops@corp.example"}) {
		t.Errorf("envelope %+v", got)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if s := parsed.Header.Get("Subject"); s != "qvt run failed" {
		t.Errorf("subject %q", s)
	}
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %s (%v)", mt, err)
	}
	mr := multipart.NewReader(parsed.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(quotedprintable.NewReader(p))
		if !bytes.Contains(b, []byte("7 new (2 P1, 5 P2)")) || !bytes.Contains(b, []byte("https://qvt.corp.example/findings?priority=P1")) {
			t.Errorf("%s part lacks the summary or its link:\n%s", types[len(types)-1], b)
		}
	}
	if !slices.Equal(types, []string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}) {
		t.Errorf("parts %v", types)
	}
	if strings.Contains(got.Data, "smtp-secret-pw") {
		t.Error("the message holds the password")
	}
}

// On port 465 the connection is TLS from the start: no STARTTLS, and the
// password goes over it.
func TestEmailImplicitTLS(t *testing.T) {
	d := smtptest.New(t, func(s *smtptest.Server) { s.Implicit = true })
	m := NewMailer("email", Email{SMTP: d.Addr, From: "qvt@corp.example", To: []string{"sec@corp.example"}, Username: "qvt", Password: "smtp-secret-pw"}, nil, Timing{})
	if m.implicit {
		t.Fatal("implicit TLS on a port other than 465")
	}
	m.implicit = true // the double listens on a free port, not 465
	m.TLS = d.TLS()
	if err := m.Send(context.Background(), TestMessage(t0, "")); err != nil {
		t.Fatal(err)
	}
	if got := d.Messages(); len(got) != 1 || !got[0].TLS || got[0].Auth != "qvt" {
		t.Errorf("messages %+v", got)
	}
	if slices.Contains(d.Commands(), "STARTTLS") {
		t.Error("STARTTLS inside TLS")
	}
	if !NewMailer("email", Email{SMTP: "smtp.corp.example:465"}, nil, Timing{}).implicit {
		t.Error("port 465 is not implicit TLS")
	}
}

// The mailer refuses a server without STARTTLS (the password would go in
// clear), and its errors do not hold the password.
func TestEmailRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(*smtptest.Server)
		pw    string
		want  string
		tries int
	}{
		{"no STARTTLS", func(d *smtptest.Server) { d.NoTLS = true }, "smtp-secret-pw", "no STARTTLS", 1},
		{"wrong password", func(*smtptest.Server) {}, "wrong-secret-pw", "535", 1},
		{"temporary refusal", func(d *smtptest.Server) { d.Fail = "451 try later" }, "smtp-secret-pw", "451", attempts},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := smtptest.New(t, c.setup)
			clock := &fakeTime{now: t0}
			m := NewMailer("email", Email{SMTP: d.Addr, From: "qvt@corp.example", To: []string{"sec@corp.example"}, Username: "qvt", Password: c.pw}, nil, clock.timing())
			m.TLS = d.TLS()
			err := m.Send(context.Background(), messages()["run"])
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "email: ") {
				t.Fatalf("error %v, want %s", err, c.want)
			}
			if strings.Contains(err.Error(), c.pw) {
				t.Errorf("the error holds the password: %v", err)
			}
			if len(clock.sleeps) != c.tries-1 {
				t.Errorf("%d retries, want %d", len(clock.sleeps), c.tries-1)
			}
			if len(d.Messages()) != 0 {
				t.Error("a message was accepted")
			}
			if c.name == "no STARTTLS" {
				for _, l := range d.Commands() {
					if strings.HasPrefix(l, "AUTH") {
						t.Error("AUTH sent without TLS")
					}
				}
			}
		})
	}
}

// source is a Source in memory.
type source struct {
	byOwner  map[string]runs.Changes
	expiring []Expiring
	warned   map[string]string
}

func (s *source) ChangesByOwner(context.Context, time.Time, time.Time) (map[string]runs.Changes, error) {
	return s.byOwner, nil
}
func (s *source) Expiring(context.Context, string) ([]Expiring, error) { return s.expiring, nil }
func (s *source) Warned(_ context.Context, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		out[n] = s.warned[n]
	}
	return out, nil
}
func (s *source) SetWarned(_ context.Context, w map[string]string) error {
	for k, v := range w {
		s.warned[k] = v
	}
	return nil
}

// After a run every channel gets everyone's summary even when one is
// down; an owner with its own webhook gets its own; the failure is logged
// and counted without the address; an exception about to expire is
// warned of once, and again only when its last day moves.
func TestNotifier(t *testing.T) {
	clock := &fakeTime{now: t0}
	down := newHook(t, clock, status(500), status(500), status(500), status(500), status(500), status(500), status(500), status(500))
	teams, hook, pay := newHook(t, clock), newHook(t, clock), newHook(t, clock)
	cfg := Config{Slack: Slack{WebhookURL: down.URL + "/services/T/B/slacksecretpath123"}, Teams: Teams{WebhookURL: teams.URL},
		Webhook: Webhook{URL: hook.URL, Secret: "hmac-secret-abc"}}
	n := New(cfg, Options{Owners: []Owner{{Name: "Payments", SlackWebhook: pay.URL + "/pay"}, {Name: "Quiet", SlackWebhook: pay.URL + "/quiet"}},
		BaseURL: "https://qvt.corp.example", WarnDays: 30, Timing: clock.timing()})
	var logs bytes.Buffer
	n.Log = slog.New(slog.NewTextHandler(&logs, nil))
	n.Now = clock.timing().Now
	src := &source{byOwner: map[string]runs.Changes{"Payments": {New: map[string]int{"P1": 1}}, "": {Fixed: 2}},
		expiring: []Expiring{{Name: "EXC-3", Until: "2026-12-20", Covered: 2}}, warned: map[string]string{}}
	n.Source = src
	var mu sync.Mutex
	sent := map[string][]bool{}
	n.Sent = func(ch string, err error) { mu.Lock(); sent[ch] = append(sent[ch], err == nil); mu.Unlock() }
	r := failedRun()
	r.Changes = runs.Changes{}
	n.RunFinished(context.Background(), r)

	if teams.count() != 2 || hook.count() != 2 {
		t.Errorf("teams got %d, webhook %d messages; want the run's and the warning each", teams.count(), hook.count())
	}
	if pay.count() != 2 {
		t.Errorf("the owners' webhook got %d messages, want Payments' and Quiet's (the run failed: both hear)", pay.count())
	}
	var w WebhookBody
	json.Unmarshal(hook.bodies[0], &w)
	if w.Changes == nil || w.Changes.New["P1"] != 1 || w.Changes.Fixed != 2 {
		t.Errorf("everyone's summary counted from the store: %+v", w.Changes)
	}
	if !slices.Equal(sent["slack"], []bool{false, false}) || !slices.Equal(sent["teams"], []bool{true, true}) || !slices.Equal(sent["slack:Payments"], []bool{true}) {
		t.Errorf("sent %v", sent)
	}
	if strings.Contains(logs.String(), "slacksecretpath123") || strings.Contains(logs.String(), "hmac-secret-abc") || !strings.Contains(logs.String(), "channel=slack") {
		t.Errorf("log:\n%s", logs.String())
	}
	if src.warned["EXC-3"] != "2026-12-20" {
		t.Errorf("warned %v", src.warned)
	}
	// The next run: nothing new to warn of; a successful quiet run says nothing.
	ok := runs.Report{RunID: "r2", Status: runs.StatusOK, Started: t0.Add(24 * time.Hour), Finished: t0.Add(25 * time.Hour)}
	src.byOwner = nil
	n.RunFinished(context.Background(), ok)
	if teams.count() != 2 {
		t.Errorf("a quiet run or a repeated warning was sent: %d messages", teams.count())
	}
	// Extended: warned again.
	src.expiring[0].Until = "2026-12-30"
	n.RunFinished(context.Background(), ok)
	if teams.count() != 3 {
		t.Errorf("the extended exception was not warned of again: %d messages", teams.count())
	}
}

// Unwarned keeps the exceptions not warned of for their present last
// day, soonest first.
func TestUnwarned(t *testing.T) {
	list := []Expiring{{Name: "EXC-1", Until: "2026-12-30"}, {Name: "EXC-2", Until: "2026-12-10"}, {Name: "EXC-3", Until: "2026-12-20"}}
	got := Unwarned(list, map[string]string{"EXC-3": "2026-12-20", "EXC-1": "2026-12-01"})
	if len(got) != 2 || got[0].Name != "EXC-2" || got[1].Name != "EXC-1" {
		t.Errorf("unwarned %+v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Slack: Slack{WebhookURL: "https://hooks.slack.com/services/T/B/x"}, Webhook: Webhook{URL: "http://127.0.0.1:9/h", Secret: "s"},
			Email: Email{SMTP: "smtp.corp.example:587", From: "qvt@corp.example", To: []string{"a@corp.example"}}}, ""},
		{"http slack", Config{Slack: Slack{WebhookURL: "http://hooks.slack.com/services/T/B/x"}}, "notify.slack.webhook_url: http sends"},
		{"not a url", Config{Teams: Teams{WebhookURL: "hooks"}}, "notify.teams.webhook_url: not a URL"},
		{"no secret", Config{Webhook: Webhook{URL: "https://x.example/h"}}, "notify.webhook.secret: empty"},
		{"no port", Config{Email: Email{SMTP: "smtp.corp.example", From: "a@b.example"}}, "notify.email.smtp"},
		{"bad from", Config{Email: Email{SMTP: "smtp.corp.example:587", From: "qvt"}}, "notify.email.from"},
		{"bad to", Config{Email: Email{SMTP: "smtp.corp.example:587", From: "a@b.example", To: []string{"x"}}}, "notify.email.to[0]"},
		{"password alone", Config{Email: Email{SMTP: "smtp.corp.example:587", From: "a@b.example", Password: "p"}}, "both username and password"},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hooks.slack.com") {
			t.Errorf("%s: the error quotes the URL: %v", c.name, err)
		}
	}
}
