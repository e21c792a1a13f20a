package environment

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	s := Set{
		{Name: "internet-facing", Tags: []string{"Internet Facing"}, CIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}, Metrics: map[string]string{"mav": "n", "CR": "H"}},
		{Name: "crown jewels", HostIDs: []int64{42}, Metrics: map[string]string{"CR": "H", "IR": "H"}},
		{Name: "lab", CIDRs: []string{"10.99.0.7"}, Metrics: map[string]string{"CR": "L"}},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		h    Host
		want int
	}{
		{Host{ID: 1, IPs: []string{"10.0.0.1"}, Tags: []string{"internet facing"}}, 1},
		{Host{ID: 2, IPs: []string{"203.0.113.9"}}, 1},
		{Host{ID: 3, IPs: []string{"", "2001:db8::5"}}, 1},
		{Host{ID: 42, IPs: []string{"10.0.0.42"}}, 2},
		{Host{ID: 42, IPs: []string{"203.0.113.1"}}, 1}, // the first match wins
		{Host{ID: 7, IPs: []string{"10.99.0.7"}}, 3},
		{Host{ID: 8, IPs: []string{"10.99.0.8"}}, 0},
		{Host{ID: 9}, 0},
	}
	for _, tt := range tests {
		if got := s.Match(tt.h); got != tt.want {
			t.Errorf("Match(%+v) = %d, want %d", tt.h, got, tt.want)
		}
	}
	if o := s.Overrides(1); o["MAV"] != "N" || o["CR"] != "H" {
		t.Errorf("overrides are not normalised: %v", o)
	}
	if s.Overrides(0) != nil || s.Overrides(9) != nil {
		t.Error("overrides for no policy")
	}
	fp := s.Fingerprint()
	s[0].Metrics["CR"] = "M"
	if s.Fingerprint() == fp {
		t.Error("fingerprint ignores a metric change")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Name: "a", Metrics: map[string]string{"CR": "H"}}, "matches no host"},
		{Policy{Name: "a", Tags: []string{"x"}}, "no metrics"},
		{Policy{Name: "a", Tags: []string{"x"}, Metrics: map[string]string{"CR": "Z"}}, "CR:Z"},
		{Policy{Name: "a", Tags: []string{"x"}, Metrics: map[string]string{"XYZ": "H"}}, "not a CVSS environmental metric"},
		{Policy{Name: "a", Tags: []string{"x"}, Metrics: map[string]string{"AV": "N"}}, "AV"},
		{Policy{Name: "a", CIDRs: []string{"300.1.1.1/8"}, Metrics: map[string]string{"CR": "H"}}, "not an address prefix"},
	} {
		err := Set{tc.p}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.p, err, tc.want)
		}
	}
	if err := (Set{{Name: "v4", Tags: []string{"x"}, Metrics: map[string]string{"MAT": "P", "CDP": "H"}}}).Validate(); err != nil {
		t.Errorf("metrics of v4 and v2 only: %v", err)
	}
	dup := Set{{Name: "a", Tags: []string{"x"}, Metrics: map[string]string{"CR": "H"}}, {Name: "a", Tags: []string{"y"}, Metrics: map[string]string{"CR": "H"}}}
	if err := dup.Validate(); err == nil {
		t.Error("duplicate names accepted")
	}
}
