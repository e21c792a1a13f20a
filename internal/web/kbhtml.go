package web

import (
	"html/template"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The KB's diagnosis, consequence and solution are HTML written by
// Qualys (and, for custom QIDs, by anyone with access to the
// subscription): they are shown as HTML, but only after bluemonday has
// kept formatting tags and http(s) links and dropped everything else:
// scripts, event handlers, styles, images, forms, frames, and any
// javascript: or data: URL.
//
// Sanitized is not yet balanced: a stray </div> would close the text's
// box and a heading would read as one of the page's own sections. So the
// sanitized text is parsed the way a browser parses the content of a
// <div>, and written back from the tree: every element it opens is closed
// inside it, end tags with nothing to close are gone, and headings become
// bold lines.

// kbPolicy is the sanitizer of KB text.
func kbPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "b", "strong", "i", "em", "u", "s", "sub", "sup", "tt", "code", "pre",
		"blockquote", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
		"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "span", "div")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("colspan", "rowspan").Matching(regexp.MustCompile(`^[0-9]{1,3}$`)).OnElements("td", "th")
	return p
}

var hasTag = regexp.MustCompile(`(?i)<\s*/?\s*[a-z][a-z0-9]*[\s>/]`)

// kbHTML renders KB text as safe HTML that stays inside the element it is
// placed in. In text without any tag the line breaks are the only layout:
// they are kept.
func (s *Server) kbHTML(text string) template.HTML {
	text = strings.TrimSpace(text)
	out := s.sanitizer.Sanitize(text)
	if !hasTag.MatchString(text) {
		return template.HTML(strings.ReplaceAll(out, "\n", "<br>\n"))
	}
	return template.HTML(balance(out))
}

// balance parses an HTML fragment as the content of a <div> and renders
// it back, balanced, with its headings demoted.
func balance(frag string) string {
	box := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(frag), box)
	if err != nil {
		// Only a failing reader makes the parser fail; text is safe.
		return template.HTMLEscapeString(frag)
	}
	var b strings.Builder
	for _, n := range nodes {
		demote(n)
		if err := html.Render(&b, n); err != nil {
			return template.HTMLEscapeString(frag)
		}
	}
	return b.String()
}

// demote turns each heading under n into <div class="kbhead"><strong>…:
// the page's headings are its own.
func demote(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		demote(c)
	}
	if n.Type != html.ElementNode {
		return
	}
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
	default:
		return
	}
	strong := &html.Node{Type: html.ElementNode, Data: "strong", DataAtom: atom.Strong}
	for c := n.FirstChild; c != nil; c = n.FirstChild {
		n.RemoveChild(c)
		strong.AppendChild(c)
	}
	n.AppendChild(strong)
	n.Data, n.DataAtom = "div", atom.Div
	n.Attr = []html.Attribute{{Key: "class", Val: "kbhead"}}
}
