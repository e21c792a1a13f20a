package app

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets go where they stand (URLs, headers, DSNs, parameters, values a
// server echoes); the same text elsewhere in a message stays readable.
func TestRedactPlaces(t *testing.T) {
	for _, tc := range []struct {
		secret, in, want string
	}{
		// Short passwords equal to words of the message.
		{"demo", "demo: sync: qualys: 401 Unauthorized", "demo: sync: qualys: 401 Unauthorized"},
		{"qualys", "sync: qualys: GET https://qualysapi.qualys.com/api/2.0/fo/: 401", "sync: qualys: GET https://qualysapi.qualys.com/api/2.0/fo/: 401"},
		{"qualys", "GET https://admin:qualys@qualysapi.qualys.com/api: refused", "GET https://admin:[REDACTED]@qualysapi.qualys.com/api: refused"},
		{"demo", "request: Authorization: Basic ZGVtbzpkZW1v", "request: Authorization: Basic [REDACTED]"},
		{"demo", "header map[Apikey:[demo] Accept:[*/*]]", "header map[Apikey:[[REDACTED]] Accept:[*/*]]"},
		{"demo", "mysql: qvt:demo@tcp(db:3306)/vulns: refused", "mysql: qvt:[REDACTED]@tcp(db:3306)/vulns: refused"},
		{"demo", "dial qvt:demo@/vulns", "dial qvt:[REDACTED]@/vulns"},
		{"qualys", "GET /api?action=list&password=qualys&x=1: 400", "GET /api?action=list&password=[REDACTED]&x=1: 400"},
		{"qualys", "nvd: GET /cves?apiKey=qualys: 403", "nvd: GET /cves?apiKey=[REDACTED]: 403"},
		{"qualys", `server said {"error":"bad login","password":"qualys"}`, `server said {"error":"bad login","password":"[REDACTED]"}`},
		// A server's error quoting the request: the secret as a value.
		{"qualys", `400: invalid request: login=admin&pw=qualys`, `400: invalid request: login=admin&pw=[REDACTED]`},
		{"qualys", `400: credentials "qualys" rejected`, `400: credentials "[REDACTED]" rejected`},
		{"qualys", `400: x=qualys-api: no such host`, `400: x=qualys-api: no such host`},
		// Parameters are redacted whatever their value.
		{"", "GET /x?token=abc123&page=2", "GET /x?token=[REDACTED]&page=2"},
		{"", "Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [REDACTED]"},
		{"", "config: nvd.api_key: want a string", "config: nvd.api_key: want a string"},
		{"", "web: password: 12 characters or more", "web: password: 12 characters or more"},
		// A long secret is replaced anywhere.
		{"Tr0ub4dor&3-horse", "echo: Tr0ub4dor&3-horse in text", "echo: [REDACTED] in text"},
		{"Tr0ub4dor&3-horse", "GET /x?q=Tr0ub4dor%263-horse", "GET /x?q=[REDACTED]"},
	} {
		var secrets []string
		if tc.secret != "" {
			secrets = []string{tc.secret}
		}
		if got := redact(tc.in, secrets); got != tc.want {
			t.Errorf("redact(%q, %q)\n got %q\nwant %q", tc.in, tc.secret, got, tc.want)
		}
	}
}

// An error printed by qvt with the password "demo" reads as it is.
func TestErrorReadableWithShortPassword(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "demo.xml")
	code, _, errs := qvt(t, map[string]string{"QUALYS_PASSWORD": "demo"}, "--db", filepath.Join(dir, "qvt.db"), "import", missing)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d: %s", code, ExitFailure, errs)
	}
	if strings.Contains(errs, "[REDACTED]") || !strings.Contains(errs, missing) {
		t.Errorf("error does not name %s as it is: %s", missing, errs)
	}
}

// Loggers made with With and WithGroup carry attributes the handler saw
// once, when they were added: those must be redacted too.
func TestLoggerWithRedacts(t *testing.T) {
	var buf bytes.Buffer
	secrets := []string{"s3cret"}
	base := slog.New(newRedactingHandler(slog.NewTextHandler(&buf, nil), secrets))
	base.With("url", "https://u:s3cret@qualys.example/api").Info("one")
	base.WithGroup("req").With("header", "Authorization: Bearer s3cret", "query", "apiKey=s3cret").Info("two")
	base.With(slog.Group("target", "dsn", "qvt:s3cret@tcp(db:3306)/v")).WithGroup("g").Info("three", "err", "token=s3cret")
	out := buf.String()
	if strings.Contains(out, "s3cret") {
		t.Errorf("a logger made with With or WithGroup leaks the secret:\n%s", out)
	}
	for _, want := range []string{"one", "two", "three", "req.header", "target.dsn", "g.err"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "[REDACTED]"); n != 5 {
		t.Errorf("%d values redacted, want 5:\n%s", n, out)
	}
}

// Without configured secrets, credentials in URLs and headers are still
// redacted: the places do not depend on knowing the secret.
func TestLoggerRedactsWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newRedactingHandler(slog.NewTextHandler(&buf, nil), nil))
	log.Info("GET https://u:pw-one@host/x failed", "header", "Authorization: Bearer tok-two")
	if out := buf.String(); strings.Contains(out, "pw-one") || strings.Contains(out, "tok-two") {
		t.Errorf("log leaks a credential:\n%s", out)
	}
}
