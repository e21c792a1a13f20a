// Package smtptest is an SMTP server on loopback for tests: it speaks
// EHLO, STARTTLS (with a certificate for 127.0.0.1), AUTH PLAIN (only over
// TLS, as real servers do), MAIL, RCPT, DATA and QUIT, and records each
// message it accepts.
package smtptest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is the SMTP server. Its settings are set by New's options,
// before it serves.
type Server struct {
	Addr     string
	CA       *x509.CertPool
	User     string
	Password string
	NoTLS    bool   // offers no STARTTLS
	Implicit bool   // TLS from the first byte, as on port 465
	Fail     string // a reply to DATA's end instead of 250, e.g. "451 try later"

	ln   net.Listener
	cert tls.Certificate
	mu   sync.Mutex
	Msgs []Msg
	Log  []string // every command received (AUTH's argument included)
}

// Msg is a message accepted, with its envelope.
type Msg struct {
	From string
	To   []string
	Data string
	TLS  bool
	Auth string // the user authenticated
}

// New starts a server for the test; it stops when the test ends.
func New(t testing.TB, options ...func(*Server)) *Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	cert := hs.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	hs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), CA: pool, ln: ln, cert: cert, User: "qvt", Password: "smtp-secret-pw"}
	for _, o := range options {
		o(s)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Messages are the messages accepted.
func (s *Server) Messages() []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Msg(nil), s.Msgs...)
}

// Commands are the commands received so far.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Log...)
}

// TLS is a client configuration that trusts the server.
func (s *Server) TLS() *tls.Config { return &tls.Config{RootCAs: s.CA} }

func (s *Server) serve(c net.Conn) {
	defer func() { c.Close() }()
	secure := false
	if s.Implicit {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
		if err := tc.Handshake(); err != nil {
			return
		}
		c, secure = tc, true
	}
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	reply("220 127.0.0.1 ESMTP test")
	var msg Msg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.Log = append(s.Log, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			switch {
			case !secure && !s.NoTLS:
				reply("250-127.0.0.1", "250-8BITMIME", "250 STARTTLS")
			case secure:
				reply("250-127.0.0.1", "250 AUTH PLAIN")
			default:
				reply("250-127.0.0.1", "250 AUTH PLAIN")
			}
		case "STARTTLS":
			if s.NoTLS || secure {
				reply("502 not offered")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "AUTH":
			mech, b64, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(b64)
			parts := strings.Split(string(raw), "\x00")
			switch {
			case !secure:
				reply("538 encryption required")
			case mech != "PLAIN" || err != nil || len(parts) != 3:
				reply("501 bad AUTH")
			case parts[1] != s.User || parts[2] != s.Password:
				reply("535 authentication failed")
			default:
				msg.Auth = parts[1]
				reply("235 ok")
			}
		case "MAIL":
			msg.From, msg.To, msg.TLS = strings.TrimSuffix(strings.TrimPrefix(arg, "FROM:<"), ">"), nil, secure
			if s.Password != "" && msg.Auth == "" {
				reply("530 authentication required")
				continue
			}
			reply("250 ok")
		case "RCPT":
			msg.To = append(msg.To, strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">"))
			reply("250 ok")
		case "DATA":
			reply("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			if s.Fail != "" {
				reply(s.Fail)
				continue
			}
			msg.Data = data.String()
			s.mu.Lock()
			s.Msgs = append(s.Msgs, msg)
			s.mu.Unlock()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}
