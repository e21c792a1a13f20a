package store

import (
	"slices"
	"testing"
)

func TestJSONList(t *testing.T) {
	cases := []struct {
		in, key string
		want    []string
	}{
		{`["CVE-2021-44228","CVE-2021-45046"]`, "", []string{"CVE-2021-44228", "CVE-2021-45046"}},
		{`[]`, "", []string{}},
		{``, "", []string{}},
		{`[{"id":"MS21-001","url":"https://example.com/a"},{"url":"https://example.com/b","id":"RHSA-2021:1"}]`, "id",
			[]string{"MS21-001", "RHSA-2021:1"}},
		{`[{"id":"","url":"u"},{"id":"A","extra":{"id":"nested"}}]`, "id", []string{"A"}},
		{`["a \"quoted\" \u00e9 name"]`, "", []string{`a "quoted" é name`}},
		{`{"id":"x"}`, "id", []string{}},            // not an array
		{`["a",`, "", []string{}},                   // truncated
		{`[1,2]`, "", []string{}},                   // not strings
		{`[{"id":7}]`, "id", []string{}},            // an id that is not a string
		{"[{\"id\":\"a\xffb\"}]", "id", []string{}}, // an id that is not UTF-8
		{"[\"a\xffb\"]", "", []string{}},            // a string that is not UTF-8
	}
	var l jsonList
	for _, c := range cases {
		got := l.list([]byte(c.in), c.key)
		if got == nil || !slices.Equal(got, c.want) {
			t.Errorf("list(%s, %q) = %q, want %q", c.in, c.key, got, c.want)
		}
	}
}
