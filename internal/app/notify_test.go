package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/config"
	"qvt/internal/exceptions"
	"qvt/internal/notify"
	"qvt/internal/notify/smtptest"
	"qvt/internal/qualys"
	"qvt/internal/runs"
	"qvt/internal/store"
)

// receiver is a webhook double: it records what it is sent and answers
// with code.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func newReceiver(t *testing.T, code int) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.sigs = append(r.sigs, req.Header.Get("X-Qvt-Signature"))
		r.mu.Unlock()
		w.WriteHeader(code)
		if code != http.StatusOK {
			io.WriteString(w, "invalid_payload")
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qvt.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var notifySecrets = []string{"slacksecretpath123", "teamssecretsig456", "hook-hmac-secret", "smtp-secret-pw"}

// qvt notify --test sends a test message to every channel, the owners'
// included, prints each one's result, and exits non-zero when one failed,
// with no secret in its output.
func TestNotifyTest(t *testing.T) {
	slack, teams, hook := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusBadRequest), newReceiver(t, http.StatusOK)
	mail := smtptest.New(t)
	smtpTLS = mail.TLS()
	defer func() { smtpTLS = nil }()
	cfg := writeConfig(t, `
notify:
  slack: {webhook_url: "`+slack.URL+`/services/T1/B1/slacksecretpath123"}
  teams: {webhook_url: "`+teams.URL+`/workflows/x/triggers/manual/paths/invoke?sig=teamssecretsig456"}
  webhook: {url: "`+hook.URL+`/qvt"}
  email: {smtp: "`+mail.Addr+`", from: "qvt@corp.example", to: [sec@corp.example], username: qvt}
web: {public_url: "https://qvt.corp.example"}
owners:
  - {name: Payments, tags: [PCI], contact: {email: pay@corp.example}}
`)
	env := map[string]string{"QVT_CONFIG": cfg, "QVT_WEBHOOK_SECRET": "hook-hmac-secret", "QVT_SMTP_PASSWORD": "smtp-secret-pw",
		"QVT_DB": filepath.Join(t.TempDir(), "qvt.db")}
	code, out, errs := qvt(t, env, "notify", "--test")
	if code != ExitFailure {
		t.Errorf("exit %d with teams refusing, want %d", code, ExitFailure)
	}
	for _, want := range []string{"slack:", "teams:", "HTTP 400: invalid_payload", "webhook:", "email:", "email:Payments:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, " ok\n"); n != 4 {
		t.Errorf("%d channels ok, want 4:\n%s", n, out)
	}
	if !strings.Contains(errs, "1 of 5 channels failed") {
		t.Errorf("stderr: %s", errs)
	}
	for _, s := range notifySecrets {
		if strings.Contains(out+errs, s) {
			t.Errorf("a secret was printed:\n%s\n%s", out, errs)
		}
	}
	if len(slack.bodies) != 1 || len(hook.bodies) != 1 {
		t.Fatalf("slack got %d, webhook %d messages", len(slack.bodies), len(hook.bodies))
	}
	mac := hmac.New(sha256.New, []byte("hook-hmac-secret"))
	mac.Write(hook.bodies[0])
	if hook.sigs[0] != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("bad signature %s", hook.sigs[0])
	}
	msgs := mail.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d e-mails, want 2 (the channel's and Payments')", len(msgs))
	}
	for _, m := range msgs {
		if !m.TLS || m.Auth != "qvt" || !strings.Contains(m.Data, "qvt: test notification") || strings.Contains(m.Data, "smtp-secret-pw") {
			t.Errorf("e-mail to %v: tls %v auth %q\n%s", m.To, m.TLS, m.Auth, m.Data)
		}
	}
}

// Without a channel, qvt notify says so and fails; a webhook address
// over http to another machine is refused naming the key, not the value.
func TestNotifyNoChannel(t *testing.T) {
	code, _, errs := qvt(t, map[string]string{"QVT_DB": filepath.Join(t.TempDir(), "qvt.db")}, "notify", "--test")
	if code == 0 || !strings.Contains(errs, "no notification channel is configured") {
		t.Errorf("exit %d: %s", code, errs)
	}
	code, _, errs = qvt(t, map[string]string{"QVT_SLACK_WEBHOOK_URL": "http://hooks.example/services/T/B/slacksecretpath123"}, "notify", "--test")
	if code == 0 || !strings.Contains(errs, "notify.slack.webhook_url") || strings.Contains(errs, "slacksecretpath123") {
		t.Errorf("exit %d: %s", code, errs)
	}
	code, _, errs = qvt(t, nil, "notify")
	if code != ExitUsage || !strings.Contains(errs, "--test or --last") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// qvt notify --last sends the summary of the last recorded run.
func TestNotifyLast(t *testing.T) {
	hook := newReceiver(t, http.StatusOK)
	db := filepath.Join(t.TempDir(), "qvt.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	r := runs.Report{RunID: "r-last", Trigger: runs.TriggerCommand, Started: t0, Finished: t0.Add(time.Minute), Status: runs.StatusOK,
		Changes: runs.Changes{New: map[string]int{"P1": 3}, Fixed: 4}}
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.FinishJobRun(r) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := map[string]string{"QVT_DB": db, "QVT_WEBHOOK_URL": hook.URL, "QVT_WEBHOOK_SECRET": "hook-hmac-secret"}
	code, out, errs := qvt(t, env, "notify", "--last")
	if code != 0 || !strings.Contains(out, "webhook:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if len(hook.bodies) != 1 {
		t.Fatalf("%d messages", len(hook.bodies))
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(hook.bodies[0], &b); err != nil || b.Run == nil || b.Run.RunID != "r-last" || b.Changes.New["P1"] != 3 || b.Changes.Fixed != 4 {
		t.Errorf("body %s (%v)", hook.bodies[0], err)
	}
}

// After each run the observer warns once of an exception about to
// expire: the warning given is kept in the store, so the next run (or
// the next process) does not repeat it.
func TestNotifyExpiringOnce(t *testing.T) {
	t.Setenv("QVT_NOW", "2026-12-05T09:00:00Z")
	hook := newReceiver(t, http.StatusOK)
	db := filepath.Join(t.TempDir(), "qvt.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	x := exceptions.Exception{Type: "false_positive", Scope: exceptions.Scope{Key: "10.1.0.1:2:443"}, Reason: "scanner misreads the banner",
		Approver: "ciso", Until: "2026-12-15"}
	if err := x.Validate(exceptions.DefaultPolicy(), "2026-12-05"); err != nil {
		t.Fatal(err)
	}
	h := &qualys.Host{ID: 1, IP: "10.1.0.1", Detections: []qualys.Detection{{QID: 2, Type: "Confirmed", Severity: 3, Status: "Active", Port: 443,
		FirstFound: "2026-11-01T00:00:00Z", LastFound: "2026-11-20T00:00:00Z"}}}
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutHosts([]store.HostRecord{{Host: h, Derived: []store.Derived{{VulnScore: "High"}}}}, clock.Now().Unix()); err != nil {
			return err
		}
		_, err := tx.AddException(&x, clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	getenv := func(k string) string {
		return map[string]string{"QVT_DB": db, "QVT_WEBHOOK_URL": hook.URL, "QVT_WEBHOOK_SECRET": "hook-hmac-secret"}[k]
	}
	quiet := runs.Report{RunID: "r1", Status: runs.StatusOK, Started: clock.Now(), Finished: clock.Now()}
	for range 2 {
		// Each time a new process: the state is the store's.
		cfg, err := config.Load("", getenv)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{cfg: cfg, getenv: getenv, log: slog.New(slog.DiscardHandler), stdout: io.Discard, stderr: io.Discard}
		obs := e.notifyObserver(nil)
		if obs == nil {
			t.Fatal("no observer with a webhook configured")
		}
		obs.RunFinished(ctx, quiet)
	}
	if len(hook.bodies) != 1 {
		t.Fatalf("%d messages, want one warning", len(hook.bodies))
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(hook.bodies[0], &b); err != nil || b.Kind != notify.KindExpiring || len(b.Expiring) != 1 ||
		b.Expiring[0].Name != x.Name() || b.Expiring[0].Until != "2026-12-15" {
		t.Errorf("body %s (%v)", hook.bodies[0], err)
	}
}
