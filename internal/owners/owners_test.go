package owners

import (
	"strings"
	"testing"
)

func rules(t *testing.T, rs ...Rule) Set {
	t.Helper()
	s := Set(rs)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	s := rules(t,
		Rule{Name: "DBA", Categories: []string{"Database"}},
		Rule{Name: "Payments", Tags: []string{"PCI", "Card data"}},
		Rule{Name: "DMZ", CIDRs: []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}},
		Rule{Name: "Legacy", HostIDs: []int64{42}},
		Rule{Name: "Web", Hostnames: []string{"web-??.corp.example", "*.shop.example"}},
		Rule{Name: "Windows", OS: []string{"Windows*"}, QIDs: []int{91234}},
		Rule{Name: "Platform", Default: true},
	)
	for _, c := range []struct {
		name     string
		h        Host
		qid      int
		category string
		want     string
	}{
		{"category before the host's rules", Host{Tags: []string{"PCI"}}, 1, "database", "DBA"},
		{"tag in any case", Host{Tags: []string{"card DATA"}}, 1, "Windows", "Payments"},
		{"IPv4 range", Host{IPs: []string{"203.0.113.9"}}, 1, "", "DMZ"},
		{"IPv6 range", Host{IPs: []string{"", "2001:db8::1"}}, 1, "", "DMZ"},
		{"bare address", Host{IPs: []string{"198.51.100.7"}}, 1, "", "DMZ"},
		{"next address is not in it", Host{IPs: []string{"198.51.100.8"}}, 1, "", "Platform"},
		{"host id", Host{ID: 42}, 1, "", "Legacy"},
		{"? is one character", Host{Names: []string{"web-01.corp.example"}}, 1, "", "Web"},
		{"? is not two", Host{Names: []string{"web-001.corp.example"}}, 1, "", "Platform"},
		{"pattern in any case, on any name", Host{Names: []string{"", "", "CART.SHOP.EXAMPLE"}}, 1, "", "Web"},
		{"OS and QID both", Host{OS: "Windows Server 2019"}, 91234, "", "Windows"},
		{"OS without the QID", Host{OS: "Windows Server 2019"}, 1, "", "Platform"},
		{"nothing but the default", Host{IPs: []string{"10.0.0.1"}}, 1, "", "Platform"},
	} {
		if got := s.Match(c.h, c.qid, c.category); got != c.want {
			t.Errorf("%s: owner %q, want %q", c.name, got, c.want)
		}
	}
	if got := (Set{}).Match(Host{ID: 1}, 1, ""); got != "" {
		t.Errorf("no rules: owner %q", got)
	}
	noDefault := rules(t, Rule{Name: "A", Tags: []string{"x"}})
	if got := noDefault.Match(Host{ID: 1}, 1, ""); got != "" {
		t.Errorf("no match and no default: owner %q", got)
	}
}

func TestPerHost(t *testing.T) {
	s := rules(t, Rule{Name: "Payments", Tags: []string{"PCI"}}, Rule{Name: "DBA", QIDs: []int{7}}, Rule{Name: "P", Default: true})
	if hr := s.ForHost(Host{Tags: []string{"pci"}}); !hr.PerHost() || hr.Owner(7, "") != "Payments" {
		t.Error("a host whose first rule has no QID condition has one owner for all its findings")
	}
	if hr := s.ForHost(Host{}); hr.PerHost() || hr.Owner(7, "") != "DBA" || hr.Owner(8, "") != "P" {
		t.Error("a host whose first rule names QIDs has owners per finding")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		rules Set
		want  string
	}{
		{Set{{Tags: []string{"x"}}}, "owners[0]: no name"},
		{Set{{Name: "A", Tags: []string{"x"}}, {Name: "a", Tags: []string{"y"}}}, `owner "a": the name is used twice`},
		{Set{{Name: "A"}}, `owner "A": it matches nothing`},
		{Set{{Name: "A", Default: true, Tags: []string{"x"}}}, `owner "A": the default owner owns what no rule matches`},
		{Set{{Name: "A", Default: true}, {Name: "B", Default: true}}, `owner "B": only one owner can be the default`},
		{Set{{Name: "A", CIDRs: []string{"10.0.0.0/33"}}}, `owner "A": cidrs: "10.0.0.0/33" is not an address prefix`},
		{Set{{Name: "A", Hostnames: []string{" "}}}, `owner "A": hostnames: an empty pattern`},
		{Set{{Name: "A", QIDs: []int{-1}}}, `owner "A": qids: -1 is not a QID`},
	} {
		err := c.rules.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.rules, err, c.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := rules(t, Rule{Name: "A", Tags: []string{"x"}, Jira: Jira{Project: "PAY"}})
	b := rules(t, Rule{Name: "A", Tags: []string{"x"}, Jira: Jira{Project: "OPS"}})
	c := rules(t, Rule{Name: "A", Tags: []string{"y"}})
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("routing changed the fingerprint: findings would be reassigned for nothing")
	}
	if a.Fingerprint() == c.Fingerprint() || (Set{}).Fingerprint() != "" {
		t.Error("the fingerprint misses a change of what the rules match")
	}
}
