// Package addr reads the address ranges people write in qvt's
// configuration and commands (environments, owners, exceptions).
package addr

import (
	"net/netip"
	"strings"
)

// ParsePrefix reads an address prefix, "10.1.0.0/16" or "2001:db8::/32",
// or a bare address, which is its own /32 or /128. The prefix is masked:
// "10.1.2.3/16" is 10.1.0.0/16. Surrounding spaces are ignored.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}
