package web

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// KB text's markup stays inside its own box: a stray end tag closes
// nothing of the page, what it opens it closes, and its headings are
// bold lines, not sections of the page.
func TestKBBalanced(t *testing.T) {
	s := &Server{sanitizer: kbPolicy()}
	for _, in := range []string{
		`Intro</div></section><h2>Fake section</h2><div><p>unclosed <b>bold`,
		`<table><tr><td>cell</div></td></tr></table></main></body></html><h1>Top</h1>`,
		`<ul><li>one<li>two</ul></ul></ul></div><h3>Sub</h3><pre>code`,
		`<p>text</p></p></p><h6><div>block in heading</div></h6>`,
	} {
		out := string(s.kbHTML(in))
		// Placed in a box followed by a sibling, as the page places it,
		// a browser's parse keeps all of it in the box.
		page := `<div id="box">` + out + `</div><p id="after">after</p>`
		doc, err := html.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		box, after := byID(doc, "box"), byID(doc, "after")
		if box == nil || after == nil || after.Parent != box.Parent {
			t.Errorf("%q → %q: the box does not hold it all, the next element moved", in, out)
			continue
		}
		for n := range box.Descendants() {
			if isHeading(n) {
				t.Errorf("%q → %q: a <%s> stays", in, out, n.Data)
			}
		}
		if got := textOf(box); !strings.Contains(got, lastWord(in)) {
			t.Errorf("%q → %q: text lost (box says %q)", in, out, got)
		}
		// Balanced: parsing and rendering it again changes nothing.
		if again := balance(out); again != out {
			t.Errorf("%q: not stable:\n%s\n%s", in, out, again)
		}
	}
	if got := string(s.kbHTML("<h2>Title</h2>text")); got != `<div class="kbhead"><strong>Title</strong></div>text` {
		t.Errorf("heading rendered as %q", got)
	}
}

// The finding page keeps its own sections after hostile KB text.
func TestKBBalancedPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		_, hs := newServerAt(t, loc, Config{})
		_, _, body := get(t, hs, "/finding/"+url.PathEscape(finding.Key(xssIP, xssQID, 443)))
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var headings []string
		for n := range doc.Descendants() {
			if isHeading(n) {
				headings = append(headings, textOf(n))
			}
		}
		for _, h := range headings {
			if strings.Contains(h, "Injected") {
				t.Errorf("KB text made a heading of the page: %q (headings %q)", h, headings)
			}
		}
		for _, id := range []string{"diagnosis", "solution"} {
			box := byID(doc, id)
			if box == nil {
				t.Fatalf("no #%s", id)
			}
			if txt := textOf(box); !strings.Contains(txt, "Injected section") || !strings.Contains(txt, "open item") {
				t.Errorf("#%s does not hold the KB text to its end: %q", id, txt)
			}
		}
		// The consequence box still follows the diagnosis box, and the
		// solution box comes after it, all three siblings in one section.
		d, c, so := byID(doc, "diagnosis"), byID(doc, "consequence"), byID(doc, "solution")
		if c == nil || d.Parent != c.Parent || so.Parent != c.Parent {
			t.Errorf("the KB boxes are no longer siblings: KB text closed the page's elements")
		}
	})
}

func isHeading(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}

func byID(doc *html.Node, id string) *html.Node {
	for n := range doc.Descendants() {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	return nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// lastWord is the last word of the text of some HTML.
func lastWord(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	last := ""
	for z.Next() != html.ErrorToken {
		if f := strings.Fields(string(z.Text())); len(f) > 0 && z.Token().Type == html.TextToken {
			last = f[len(f)-1]
		}
	}
	return last
}
