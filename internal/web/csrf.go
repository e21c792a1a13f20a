package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// Writing from the dashboard (exceptions: add, extend, revoke) is open
// only to a dashboard with a login, or on loopback, where only this
// machine reaches it; any other dashboard is read-only.
//
// A form is a page's, not another site's: each POST carries a token that
// is an HMAC, under a secret drawn when the dashboard starts, of the
// session it was rendered for (the login's credential, or on loopback
// without a login a random session cookie), and comes from the
// dashboard's own origin (Origin, or Referer when the browser sends no
// Origin). A browser sends a basic login and a cookie with any site's
// request; it sends neither the token nor the dashboard's Origin.
//
// The API writes with the bearer token, which a browser never adds by
// itself: no CSRF token there, and a request that only carries the
// session cookie or a basic login is refused.

// sessionCookie names the cookie of a session on loopback without a login.
const sessionCookie = "qvt_session"

// newSecret draws the CSRF secret.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail (Go 1.24+)
	return b
}

// writable tells whether the dashboard lets its users write.
func (s *Server) writable() bool {
	if s.cfg.Auth.Enabled() {
		return true
	}
	loop, err := loopback(s.cfg.addr())
	return err == nil && loop
}

// session is what a request's CSRF token is bound to: its credential, or
// its session cookie; "" when it has neither.
func (s *Server) session(r *http.Request) string {
	if s.cfg.Auth.Enabled() {
		if scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
			return "bearer:" + strings.TrimSpace(tok)
		}
		if user, pass, ok := r.BasicAuth(); ok {
			return "basic:" + user + ":" + pass
		}
		return ""
	}
	if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) >= 32 {
		return "cookie:" + c.Value
	}
	return ""
}

// ensureSession gives a browser on loopback without a login a session
// cookie, so that the forms of the page being rendered have a token, and
// returns the request's session.
func (s *Server) ensureSession(w http.ResponseWriter, r *http.Request) string {
	if sess := s.session(r); sess != "" || s.cfg.Auth.Enabled() {
		return sess
	}
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail (Go 1.24+)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.TLSCert != ""})
	// The request itself, so that this page's forms carry its token.
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
	return "cookie:" + v
}

// csrfToken is the form token of a session.
func (s *Server) csrfToken(session string) string {
	if session == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(session))
	return hex.EncodeToString(m.Sum(nil))
}

// sameOrigin tells whether a request comes from the dashboard's own
// pages: its Origin, else its Referer, names the host it was sent to.
// A request with neither is refused: every browser sends an Origin with a
// form's POST (the pages' Referrer-Policy, same-origin, keeps it).
func (s *Server) sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Header.Get("Referer")
	}
	if from == "" || from == "null" {
		return false
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) && s.servedHost(u.Host)
}

// errReadOnly answers a write to a read-only dashboard.
var errReadOnly = &httpError{http.StatusForbidden,
	"this dashboard is read-only: it writes only with a login configured (web.auth) or on loopback"}

// checkForm checks a form's POST: a dashboard that writes, the dashboard's
// own origin and the session's token.
func (s *Server) checkForm(r *http.Request) error {
	if !s.writable() {
		return errReadOnly
	}
	if !s.sameOrigin(r) {
		return &httpError{http.StatusForbidden, "refused: this form was not sent from the dashboard's own pages"}
	}
	want := s.csrfToken(s.session(r))
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &httpError{http.StatusForbidden, "refused: the form's token is missing or stale; reload the page and send it again"}
	}
	return nil
}

// checkAPIWrite checks a POST to the API: the bearer token when a login
// is configured; on loopback without one, a JSON body from no other
// site.
func (s *Server) checkAPIWrite(r *http.Request) error {
	if !s.writable() {
		return errReadOnly
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	bearer := strings.EqualFold(scheme, "Bearer")
	if s.cfg.Auth.Enabled() {
		// secure() has checked the credential; a basic login is what a
		// browser adds to any site's request.
		if !bearer {
			return &httpError{http.StatusForbidden, "refused: the API writes with the bearer token (Authorization: Bearer …, web.auth.token)"}
		}
		return nil
	}
	if _, err := r.Cookie(sessionCookie); err == nil {
		return &httpError{http.StatusForbidden, "refused: a request with the dashboard's session cookie is a browser's; use the forms"}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return &httpError{http.StatusUnsupportedMediaType, "send a JSON body (Content-Type: application/json)"}
	}
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(r) {
		return &httpError{http.StatusForbidden, "refused: a request from another site"}
	}
	return nil
}

// actor is who a write is recorded as: the login's user, the API token,
// or the dashboard on loopback without a login.
func (s *Server) actor(r *http.Request) string {
	if s.cfg.Auth.Enabled() {
		if user, _, ok := r.BasicAuth(); ok && user != "" {
			return user
		}
		return "api token"
	}
	return "dashboard"
}
