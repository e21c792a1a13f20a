// Package environment holds the environment policies: which hosts get
// which CVSS environmental metrics. A finding's environmental score, and
// so its rating and deadline, depends on where it is: the same QID is
// more urgent on an internet-facing host holding card data than on a lab
// machine. A host matches a policy by Qualys tag, by address (CIDR) or by
// host ID; the first policy that matches applies.
package environment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"qvt/internal/addr"
	"qvt/internal/cvss"
)

// Policy is one environment.
type Policy struct {
	Name    string            `yaml:"name"`
	Tags    []string          `yaml:"tags"`     // Qualys tag names (case-insensitive); any one matches
	CIDRs   []string          `yaml:"cidrs"`    // IPv4 or IPv6 prefixes, e.g. 203.0.113.0/24
	HostIDs []int64           `yaml:"host_ids"` // Qualys host IDs
	Metrics map[string]string `yaml:"metrics"`  // CVSS environmental metrics, e.g. {MAV: N, CR: H}

	prefixes []netip.Prefix
}

// Host is what matching needs of a host.
type Host struct {
	ID   int64
	IPs  []string // its IPv4 and IPv6 addresses
	Tags []string
}

// Set is the ordered list of policies. Policy ids are 1-based positions;
// 0 means no policy.
type Set []Policy

// reference vectors: an override is valid if the versions that have the
// metric accept its value.
var references = []string{
	"AV:N/AC:L/Au:N/C:P/I:P/A:P",
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
	"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
}

// Validate checks every policy and prepares its prefixes.
func (s Set) Validate() error {
	names := map[string]bool{}
	for i := range s {
		p := &s[i]
		where := fmt.Sprintf("environments[%d]", i)
		if p.Name != "" {
			where = fmt.Sprintf("environment %q", p.Name)
			if names[p.Name] {
				return fmt.Errorf("%s: the name is used twice", where)
			}
			names[p.Name] = true
		}
		if len(p.Tags) == 0 && len(p.CIDRs) == 0 && len(p.HostIDs) == 0 {
			return fmt.Errorf("%s: it matches no host: give tags, cidrs or host_ids", where)
		}
		if len(p.Metrics) == 0 {
			return fmt.Errorf("%s: no metrics", where)
		}
		p.prefixes = p.prefixes[:0]
		for _, c := range p.CIDRs {
			pre, err := addr.ParsePrefix(c)
			if err != nil {
				return fmt.Errorf("%s: cidrs: %q is not an address prefix", where, c)
			}
			p.prefixes = append(p.prefixes, pre)
		}
		norm := map[string]string{}
		for k, v := range p.Metrics {
			norm[strings.ToUpper(strings.TrimSpace(k))] = strings.ToUpper(strings.TrimSpace(v))
		}
		p.Metrics = norm
		for k, v := range p.Metrics {
			known := false
			for _, ref := range references {
				if _, err := cvss.Score(ref, map[string]string{k: v}); err != nil {
					return fmt.Errorf("%s: metrics: %s:%s: %v", where, k, v, err)
				}
				if hasMetric(ref, k) {
					known = true
				}
			}
			if !known {
				return fmt.Errorf("%s: metrics: %s is not a CVSS environmental metric", where, k)
			}
		}
	}
	return nil
}

// hasMetric tells whether the version of vector has environmental metric
// k: setting it to a value no version accepts must then fail.
func hasMetric(vector, k string) bool {
	_, err := cvss.Score(vector, map[string]string{k: "?"})
	return err != nil
}

// Match returns the id of the first policy matching the host, 0 if none.
func (s Set) Match(h Host) int {
	for i := range s {
		p := &s[i]
		if slices.Contains(p.HostIDs, h.ID) {
			return i + 1
		}
		for _, t := range h.Tags {
			if slices.ContainsFunc(p.Tags, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), t) }) {
				return i + 1
			}
		}
		for _, ip := range h.IPs {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				continue
			}
			for _, pre := range p.prefixes {
				if pre.Contains(a.Unmap()) {
					return i + 1
				}
			}
		}
	}
	return 0
}

// Overrides returns the metrics of policy id (nil for 0 or an unknown id).
func (s Set) Overrides(id int) map[string]string {
	if id < 1 || id > len(s) {
		return nil
	}
	return maps.Clone(s[id-1].Metrics)
}

// Fingerprint identifies the set: findings scored under another
// fingerprint are rescored.
func (s Set) Fingerprint() string {
	if len(s) == 0 {
		return ""
	}
	h := sha256.New()
	for _, p := range s {
		fmt.Fprintf(h, "%s|%v|%v|%v|", p.Name, p.Tags, p.CIDRs, p.HostIDs)
		for _, k := range slices.Sorted(maps.Keys(p.Metrics)) {
			fmt.Fprintf(h, "%s=%s;", k, p.Metrics[k])
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
