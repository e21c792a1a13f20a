package jira

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ in, text, href string }{
		{`There is no vendor supplied patch. <A HREF="https://www.openssh.com/" TARGET="_blank">OpenSSH</A>`, "There is no vendor supplied patch. OpenSSH", "https://www.openssh.com/"},
		{`<P>Line one<BR>line two</P><UL><LI>a</LI><LI>b &amp; c</LI></UL>`, "Line one\nline two\n\n- a\n- b & c", ""},
		{`<script>alert(1)</script>safe <b>bold</b> <a href="javascript:alert(1)">x</a>`, "safe bold x", ""},
		{`1 < 2 and 3 > 2`, "1 < 2 and 3 > 2", ""},
		{`<!-- c -->  spaced   out  `, "spaced out", ""},
	} {
		in := htmlText(tc.in)
		var sb strings.Builder
		href := ""
		for _, r := range in {
			sb.WriteString(r.Text)
			if r.Href != "" {
				href = r.Href
			}
		}
		if sb.String() != tc.text || href != tc.href {
			t.Errorf("%q:\n got %q %q\nwant %q %q", tc.in, sb.String(), href, tc.text, tc.href)
		}
	}
}

func TestRender(t *testing.T) {
	d := doc{
		heading(3, "Solution"),
		para(txt("a *b* [c] {d} |e| -f-\nnext"), link("CVE-1", "https://nvd.nist.gov/vuln/detail/CVE-1"), link("bad", "javascript:x")),
		table(row(cellText("h1"), cellText("h2")), row(cellText("x|y"), cellText(""))),
		codeBlock("raw {noformat} <b>"),
		list([]inline{txt("item")}),
	}
	w := d.wiki()
	for _, want := range []string{"h3. Solution", "a &#42;b&#42; &#91;c&#93; &#123;d&#125; &#124;e&#124; &#45;f&#45;\nnext", "[CVE-1|https://nvd.nist.gov/vuln/detail/CVE-1]",
		"||h1||h2||\n|x&#124;y| |", "{noformat}\nraw { noformat} <b>\n{noformat}", "* item"} {
		if !strings.Contains(w, want) {
			t.Errorf("wiki lacks %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "javascript") {
		t.Errorf("unsafe link kept:\n%s", w)
	}
	a := jsonText(d.adf())
	var m map[string]any
	if err := json.Unmarshal([]byte(a), &m); err != nil || m["type"] != "doc" || fmt.Sprint(m["version"]) != "1" {
		t.Fatalf("adf: %v %s", err, a)
	}
	for _, want := range []string{`"type":"hardBreak"`, `"marks":[{"attrs":{"href":"https://nvd.nist.gov/vuln/detail/CVE-1"},"type":"link"}]`, `"type":"tableHeader"`, `"type":"codeBlock"`, `"type":"bulletList"`} {
		if !strings.Contains(a, want) {
			t.Errorf("adf lacks %s:\n%s", want, a)
		}
	}
	if strings.Contains(a, `"text":""`) || strings.Contains(a, "javascript") {
		t.Errorf("adf has an empty text node or an unsafe link:\n%s", a)
	}
}

func TestFit(t *testing.T) {
	long := strings.Repeat("0123456789", 5000)
	ptr := para(txt("…truncated; full record: "), mono("qvt history k"))
	var rows [][]cell
	rows = append(rows, row(cellText("a"), cellText("b")))
	for i := range 3000 {
		rows = append(rows, row(cellText(fmt.Sprint(i)), cellText("some text")))
	}
	for _, cloud := range []bool{true, false} {
		for name, d := range map[string]doc{
			"code":  {para(txt("intro")), codeBlock(long)},
			"para":  {para(txt(long))},
			"table": {para(txt("intro")), table(rows...), para(txt("after"))},
			"small": {para(txt("short"))},
		} {
			out, cut := d.fit(2000, cloud, ptr)
			n := out.size(cloud)
			if n > 2000 {
				t.Errorf("%s cloud=%v: %d over 2000", name, cloud, n)
			}
			if name == "small" {
				if cut {
					t.Errorf("small doc cut")
				}
				continue
			}
			if !cut || n < 1500 {
				t.Errorf("%s cloud=%v: cut %v, size %d (too much cut away)", name, cloud, cut, n)
			}
			last := out[len(out)-1]
			if last.Kind != "p" || last.Inl[1].Text != "qvt history k" {
				t.Errorf("%s: no pointer last", name)
			}
		}
	}
}
