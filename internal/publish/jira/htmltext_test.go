package jira

import "testing"

// KB HTML read as a browser reads it: a ">" inside a quoted attribute
// does not end the tag, and no attribute text leaks into the description.
func TestHTMLTextTricky(t *testing.T) {
	type run struct{ text, href string }
	for _, tc := range []struct {
		name, in string
		want     []run
	}{
		{"> in a quoted href", `<a href="x>y">z</a>`, []run{{"z", ""}}},
		{"> in a quoted https href", `See <a href="https://example.com/a?b=x>y" target="_blank">advisory</a> now`,
			[]run{{"See ", ""}, {"advisory", "https://example.com/a?b=x>y"}, {" now", ""}}},
		{"> in another attribute", `<a title="1>0" href='https://example.com/'>t</a>`, []run{{"t", "https://example.com/"}}},
		{"unquoted href", `<a href=https://example.com/p>t</a>`, []run{{"t", "https://example.com/p"}}},
		{"> in an img alt", `<img src="i.png" alt="a>b">text`, []run{{"text", ""}}},
		{"script holding markup", `<SCRIPT>if (a < b) { x = "</p><a href='https://evil/'>" }</SCRIPT>after`, []run{{"after", ""}}},
		{"style", `<style>p > a { color: red }</style>shown`, []run{{"shown", ""}}},
		{"comment holding >", `<!-- a > b -->text`, []run{{"text", ""}}},
		{"entities", `&lt;script&gt; &#x41;&#65;&apos;&quot;&amp;amp;`, []run{{`<script> AA'"&amp;`, ""}}},
		{"uppercase tags and paragraphs", `<P>a</P><P>b</P>`, []run{{"a\n\nb", ""}}},
		{"a link in a link", `<a href="https://a.example/">x<a href="https://b.example/">y</a>z`,
			[]run{{"x", "https://a.example/"}, {"y", "https://b.example/"}, {"z", ""}}},
		{"javascript and data links dropped", `<a href=" javascript:alert(1)">j</a><a href="data:text/html,x">d</a>`, []run{{"jd", ""}}},
		{"mailto dropped", `<a href="mailto:x@example.com">mail</a>`, []run{{"mail", ""}}},
		{"stray <", `a < b <c`, []run{{"a < b", ""}}},
		{"list", `<ul><li>one<li>two</ul>`, []run{{"- one\n- two", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []run
			for _, r := range htmlText(tc.in) {
				if n := len(got); n > 0 && got[n-1].href == r.Href {
					got[n-1].text += r.Text
					continue
				}
				got = append(got, run{r.Text, r.Href})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
					break
				}
			}
		})
	}
}
