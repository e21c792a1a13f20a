package exceptions

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	p := Policy{MaxDays: 90}
	base := func() Exception {
		return Exception{Type: "risk-accepted", Scope: Scope{QID: 38794}, Reason: "r", Approver: "ciso@corp.example", Until: "2027-02-01"}
	}
	for _, c := range []struct {
		name string
		edit func(*Exception)
		want string
	}{
		{"valid", func(*Exception) {}, ""},
		{"unknown type", func(e *Exception) { e.Type = "waived" }, `"waived" is not a type of exception`},
		{"risk accepted needs an expiry", func(e *Exception) { e.Until = "" }, "a risk_accepted exception needs an expiry"},
		{"false positive may run without", func(e *Exception) { e.Type, e.Until = "false_positive", "" }, ""},
		{"beyond max_days", func(e *Exception) { e.Until = "2027-03-06" }, "until: 2027-03-06 is 91 days after 2026-12-05; exceptions.max_days allows 90"},
		{"in the past", func(e *Exception) { e.Until = "2026-12-04" }, "until: 2026-12-04 is in the past"},
		{"not a date", func(e *Exception) { e.Until = "31/03/2027" }, `until: "31/03/2027" is not a date`},
		{"no reason", func(e *Exception) { e.Reason = " " }, "an exception needs a reason"},
		{"no approver", func(e *Exception) { e.Approver = "" }, "an exception needs an approver"},
		{"no scope", func(e *Exception) { e.Scope = Scope{} }, "scope: give a finding key or a QID"},
		{"bad key", func(e *Exception) { e.Scope = Scope{Key: "10.0.0.1:x:443"} }, `scope: "10.0.0.1:x:443" is not a finding key`},
		{"key with a tag", func(e *Exception) { e.Scope = Scope{Key: "10.0.0.1:38794:443", Tag: "PCI"} }, "scope: a finding key is a whole scope"},
		{"bad range", func(e *Exception) { e.Scope.CIDR = "10.0.0.0/40" }, `scope: cidr: "10.0.0.0/40" is not an address prefix`},
	} {
		e := base()
		c.edit(&e)
		err := e.Validate(p, "2026-12-05")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	e := base()
	if err := e.Validate(p, "2026-12-05"); err != nil || e.Type != RiskAccepted || e.Start != "2026-12-05" {
		t.Errorf("Validate left %+v, %v: want the type's canonical name and today as start", e, err)
	}
	k := Exception{Type: "false_positive", Reason: "r", Approver: "a"}
	k.Scope.Key = "2001:db8::1:38794:443"
	if err := k.Validate(p, "2026-12-05"); err != nil || k.Scope.QID != 38794 {
		t.Errorf("a key scope takes its QID from the key: %+v %v", k.Scope, err)
	}
}

func TestParse(t *testing.T) {
	if u, err := ParseUntil("30d", "2027-01-15"); err != nil || u != "2027-02-14" {
		t.Errorf("ParseUntil(30d) = %q %v", u, err)
	}
	if _, err := ParseUntil("soon", "2027-01-15"); err == nil {
		t.Error("ParseUntil(soon) accepted")
	}
	for s, want := range map[string]int64{"EXC-12": 12, "exc-7": 7, "3": 3} {
		if id, err := ParseName(s); err != nil || id != want {
			t.Errorf("ParseName(%q) = %d %v", s, id, err)
		}
	}
	for _, s := range []string{"EXC-", "EXC-0", "12a", ""} {
		if _, err := ParseName(s); err == nil {
			t.Errorf("ParseName(%q) accepted", s)
		}
	}
}

func TestSelectsHost(t *testing.T) {
	h := Host{ID: 7, IPs: []string{"10.1.2.3", ""}, Tags: []string{"Legacy DMZ"}, Names: []string{"pay-01.corp.example"}}
	port := 443
	for _, c := range []struct {
		sc   Scope
		want bool
	}{
		{Scope{QID: 1}, true},
		{Scope{QID: 1, Tag: "legacy dmz"}, true},
		{Scope{QID: 1, Tag: "DMZ"}, false},
		{Scope{QID: 1, CIDR: "10.1.0.0/16"}, true},
		{Scope{QID: 1, CIDR: "10.2.0.0/16"}, false},
		{Scope{QID: 1, Tag: "Legacy DMZ", CIDR: "10.2.0.0/16"}, false}, // both must hold
		{Scope{QID: 1, Host: "7"}, true},
		{Scope{QID: 1, Host: "10.1.2.3"}, true},
		{Scope{QID: 1, Host: "PAY-01.corp.example"}, true},
		{Scope{QID: 1, Host: "8"}, false},
	} {
		if got := c.sc.SelectsHost(h); got != c.want {
			t.Errorf("%s selects the host: %v, want %v", c.sc, got, c.want)
		}
	}
	sc := Scope{QID: 1, Port: &port}
	if !sc.SelectsPort(443) || sc.SelectsPort(80) || !(&Scope{QID: 1}).SelectsPort(80) {
		t.Error("ports")
	}
}

func TestActiveOn(t *testing.T) {
	e := Exception{State: Active, Start: "2026-12-05", Until: "2027-03-31"}
	for d, want := range map[string]bool{"2026-12-04": false, "2026-12-05": true, "2027-03-31": true, "2027-04-01": false} {
		if e.ActiveOn(d) != want {
			t.Errorf("ActiveOn(%s) = %v", d, !want)
		}
	}
	e.State = Revoked
	if e.ActiveOn("2027-01-01") {
		t.Error("a revoked exception is active")
	}
}
