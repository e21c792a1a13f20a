package web

import (
	"html/template"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
)

// The KB's diagnosis, consequence and solution are HTML written by
// Qualys (and, for custom QIDs, by anyone with access to the
// subscription): they are shown as HTML, but only after bluemonday has
// kept formatting tags and http(s) links and dropped everything else:
// scripts, event handlers, styles, images, forms, frames, and any
// javascript: or data: URL.

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

// kbHTML renders KB text as safe HTML. In text without any tag the line
// breaks are the only layout: they are kept.
func (s *Server) kbHTML(text string) template.HTML {
	text = strings.TrimSpace(text)
	out := s.sanitizer.Sanitize(text)
	if !hasTag.MatchString(text) {
		out = strings.ReplaceAll(out, "\n", "<br>\n")
	}
	return template.HTML(out)
}
