package addr

import "testing"

func TestParsePrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"10.1.0.0/16", "10.1.0.0/16"},
		{" 10.1.2.3/16 ", "10.1.0.0/16"},
		{"192.0.2.7", "192.0.2.7/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8:1:2::/32", "2001:db8::/32"},
	} {
		p, err := ParsePrefix(c.in)
		if err != nil || p.String() != c.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", c.in, p, err, c.want)
		}
	}
	for _, bad := range []string{"", "10.1.0.0/33", "host.example", "10.1/16", "::/129"} {
		if p, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) = %v, want an error", bad, p)
		}
	}
}
