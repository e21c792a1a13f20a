package redact

import "testing"

// A short secret goes where a secret stands and nowhere else; a long one
// goes wherever it occurs. (internal/app's tests cover every place.)
func TestString(t *testing.T) {
	for _, c := range []struct{ in, secret, want string }{
		{"demo: sync: password=demo rejected", "demo", "demo: sync: password=" + Mark + " rejected"},
		{`the server said "demo" is wrong`, "demo", `the server said "` + Mark + `" is wrong`},
		{"open qvt:demo@tcp(db:3306)/demo: refused", "demo", "open qvt:" + Mark + "@tcp(db:3306)/demo: refused"},
		{"demonstration of demo", "demo", "demonstration of demo"},
		{"token abcdefghijkl1 in the body", "abcdefghijkl1", "token " + Mark + " in the body"},
		{"no secret here", "", "no secret here"},
	} {
		if got := String(c.in, []string{c.secret}); got != c.want {
			t.Errorf("String(%q, %q)\n got %q\nwant %q", c.in, c.secret, got, c.want)
		}
	}
}
