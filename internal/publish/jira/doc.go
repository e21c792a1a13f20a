package jira

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// doc is rich text as qvt builds it, rendered to ADF (Cloud, REST v3)
// or wiki markup (Data Center, REST v2). Text in it is plain text: KB
// HTML is converted before it gets here, and each renderer escapes what
// its format needs, so nothing from Qualys is passed through as markup.
type doc []block

// block is one block of a doc.
type block struct {
	Kind  string     `json:"k"` // h (heading), p, code, table, list
	Level int        `json:"l,omitempty"`
	Inl   []inline   `json:"i,omitempty"` // h, p
	Text  string     `json:"t,omitempty"` // code
	Rows  [][]cell   `json:"r,omitempty"` // table; the first row is the header
	Items [][]inline `json:"it,omitempty"`
}

type cell []inline

// inline is a run of text, optionally a link (http, https or mailto
// only), bold or monospace.
type inline struct {
	Text   string `json:"t"`
	Href   string `json:"h,omitempty"`
	Strong bool   `json:"b,omitempty"`
	Code   bool   `json:"c,omitempty"`
}

func txt(s string) inline     { return inline{Text: s} }
func bold(s string) inline    { return inline{Text: s, Strong: true} }
func mono(s string) inline    { return inline{Text: s, Code: true} }
func link(s, h string) inline { return inline{Text: s, Href: safeHref(h)} }

func para(in ...inline) block           { return block{Kind: "p", Inl: in} }
func heading(level int, s string) block { return block{Kind: "h", Level: level, Inl: []inline{txt(s)}} }
func codeBlock(s string) block          { return block{Kind: "code", Text: s} }
func table(rows ...[]cell) block        { return block{Kind: "table", Rows: rows} }
func row(cells ...cell) []cell          { return cells }
func list(items ...[]inline) block      { return block{Kind: "list", Items: items} }
func cellText(s string) cell            { return cell{txt(s)} }
func cellOf(in ...inline) cell          { return cell(in) }

// safeHref keeps http(s) and mailto links; anything else is dropped.
func safeHref(h string) string {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
		return u.String()
	}
	return ""
}

// ---- ADF ----

func adfInline(in []inline) []any {
	out := []any{}
	for _, r := range in {
		lines := strings.Split(r.Text, "\n")
		for i, l := range lines {
			if i > 0 {
				out = append(out, map[string]any{"type": "hardBreak"})
			}
			if l == "" {
				continue
			}
			n := map[string]any{"type": "text", "text": l}
			var marks []any
			if r.Href != "" {
				marks = append(marks, map[string]any{"type": "link", "attrs": map[string]any{"href": r.Href}})
			}
			if r.Strong && !r.Code {
				marks = append(marks, map[string]any{"type": "strong"})
			}
			if r.Code {
				marks = append(marks, map[string]any{"type": "code"})
			}
			if len(marks) > 0 {
				n["marks"] = marks
			}
			out = append(out, n)
		}
	}
	return out
}

func adfPara(in []inline) map[string]any {
	p := map[string]any{"type": "paragraph"}
	if c := adfInline(in); len(c) > 0 {
		p["content"] = c
	}
	return p
}

func adfBlock(b block) map[string]any {
	switch b.Kind {
	case "h":
		h := map[string]any{"type": "heading", "attrs": map[string]any{"level": max(1, min(b.Level, 6))}}
		if c := adfInline(b.Inl); len(c) > 0 {
			h["content"] = c
		}
		return h
	case "code":
		c := map[string]any{"type": "codeBlock", "attrs": map[string]any{}}
		if b.Text != "" {
			c["content"] = []any{map[string]any{"type": "text", "text": b.Text}}
		}
		return c
	case "table":
		rows := []any{}
		for i, r := range b.Rows {
			cells := []any{}
			for _, c := range r {
				t := "tableCell"
				if i == 0 {
					t = "tableHeader"
				}
				cells = append(cells, map[string]any{"type": t, "attrs": map[string]any{}, "content": []any{adfPara(c)}})
			}
			rows = append(rows, map[string]any{"type": "tableRow", "content": cells})
		}
		return map[string]any{"type": "table", "attrs": map[string]any{"isNumberColumnEnabled": false, "layout": "default"}, "content": rows}
	case "list":
		items := []any{}
		for _, it := range b.Items {
			items = append(items, map[string]any{"type": "listItem", "content": []any{adfPara(it)}})
		}
		return map[string]any{"type": "bulletList", "content": items}
	}
	return adfPara(b.Inl)
}

// adf renders d as an ADF document.
func (d doc) adf() map[string]any {
	content := []any{}
	for _, b := range d {
		if b.Kind == "list" && len(b.Items) == 0 || b.Kind == "table" && len(b.Rows) == 0 {
			continue
		}
		content = append(content, adfBlock(b))
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}

// jsonText is v's JSON as sent. Measuring it (with <, > and & escaped
// to six characters each) overestimates what Jira counts, which is the
// safe side: Atlassian does not document how ADF is counted.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---- wiki markup ----

// wikiMarkup are the characters that start or end a construct of Jira's
// wiki renderer somewhere in a line: text effects (*strong*, _emphasis_,
// -deleted-, +inserted+, ^superscript^, ~subscript~), lists and rules (*
// and - at a line's start; ----), tables (|), macros and monospace
// ({...}, {{...}}), links and mentions ([...]), images (!...!), line
// breaks (\\) and entities (&...;). Citations (??...??) and numbered
// lists (# at a line's start) are told by their place (wikiMarks).
const wikiMarkup = `\*_-+^~{}[]|!&`

// wikiBlockWord matches a line that the renderer reads as a heading or a
// block quote, whatever its case.
var wikiBlockWord = regexp.MustCompile(`(?i)^(h[1-6]|bq)\.`)

// wikiEmoticon matches what the renderer turns into an emoticon (those
// made of characters escaped anyway, like (!) or (*), are left out).
var wikiEmoticon = regexp.MustCompile(`(?i)^(:[)(pd]|;\)|\((y|n|i|/|x|on|off|flag|flagoff)\))`)

// wikiEscape makes s plain text in wiki markup, case-insensitively: each
// character that can take part in a construct is written as a numeric
// character reference, which the renderer passes to the page as it is
// and the browser shows as the character. (Backslash escapes do not do:
// a backslash cannot escape itself, "\\" being a line break, and some
// renderer versions ignore them in tables.)
func wikiEscape(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	lineStart := true
	prev := rune(0)
	for i, r := range s {
		switch {
		case r == '\n':
			lineStart, prev = true, r
			sb.WriteByte('\n')
			continue
		case lineStart && (r == ' ' || r == '\t'):
			sb.WriteRune(r)
			continue
		}
		if wikiMarks(s, i, r, prev, lineStart) {
			sb.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		} else {
			sb.WriteRune(r)
		}
		lineStart, prev = false, r
	}
	return sb.String()
}

// wikiMarks tells whether the rune r at s[i] (after prev) can take part
// in a construct.
func wikiMarks(s string, i int, r, prev rune, lineStart bool) bool {
	next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
	switch {
	case r == '-' && !lineStart && isAlnum(prev) && isAlnum(next):
		// Inside a word (CVE-2020-15778, 2025-12-20) a hyphen can
		// neither open nor close -deleted- text.
		return false
	case strings.ContainsRune(wikiMarkup, r):
		return true
	case r == '?':
		return prev == '?' || next == '?'
	case r == '#':
		return lineStart
	case lineStart && (r == 'h' || r == 'H' || r == 'b' || r == 'B'):
		return wikiBlockWord.MatchString(s[i:min(len(s), i+3)])
	case r == ':' || r == ';' || r == '(':
		return wikiEmoticon.MatchString(s[i:min(len(s), i+9)]) // "(flagoff)" is the longest
	}
	return false
}

func isAlnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// wikiHref makes a link's address safe inside [text|address]: the
// characters that end or split the link, or start another construct, are
// percent-encoded.
var wikiHref = strings.NewReplacer("|", "%7C", "]", "%5D", "[", "%5B", " ", "%20", "{", "%7B", "}", "%7D",
	"!", "%21", "^", "%5E", `\`, "%5C", "\t", "%09", "\n", "%0A", "\r", "%0D")

// noformatMacro is what could end a {noformat} block: the renderer reads
// macro names whatever their case.
var noformatMacro = regexp.MustCompile(`(?i)\{(noformat)`)

func wikiInline(in []inline, oneLine bool) string {
	var sb strings.Builder
	for _, r := range in {
		t := r.Text
		if oneLine {
			t = strings.Join(strings.Fields(t), " ")
		}
		if strings.TrimSpace(t) == "" {
			sb.WriteString(t)
			continue
		}
		e := wikiEscape(strings.TrimSpace(t))
		lead := t[:len(t)-len(strings.TrimLeft(t, " \t\n"))]
		trail := t[len(strings.TrimRight(t, " \t\n")):]
		sb.WriteString(lead)
		switch {
		case r.Href != "":
			sb.WriteString("[" + e + "|" + wikiHref.Replace(r.Href) + "]")
		case r.Code:
			sb.WriteString("{{" + e + "}}")
		case r.Strong:
			sb.WriteString("*" + e + "*")
		default:
			sb.WriteString(e)
		}
		sb.WriteString(trail)
	}
	return sb.String()
}

func wikiBlock(b block) string {
	switch b.Kind {
	case "h":
		return "h" + string(rune('0'+max(1, min(b.Level, 6)))) + ". " + wikiInline(b.Inl, true)
	case "code":
		// Nothing inside a noformat block is markup but the macro that
		// ends it; a space keeps that one from being read.
		return "{noformat}\n" + noformatMacro.ReplaceAllString(b.Text, "{ $1") + "\n{noformat}"
	case "table":
		var sb strings.Builder
		for i, r := range b.Rows {
			sep := "|"
			if i == 0 {
				sep = "||"
			}
			if i > 0 {
				sb.WriteString("\n")
			}
			sb.WriteString(sep)
			for _, c := range r {
				s := wikiInline(c, true)
				if strings.TrimSpace(s) == "" {
					s = " "
				}
				sb.WriteString(s + sep)
			}
		}
		return sb.String()
	case "list":
		var lines []string
		for _, it := range b.Items {
			lines = append(lines, "* "+wikiInline(it, true))
		}
		return strings.Join(lines, "\n")
	}
	return wikiInline(b.Inl, false)
}

// wiki renders d as wiki markup.
func (d doc) wiki() string {
	var parts []string
	for _, b := range d {
		if b.Kind == "list" && len(b.Items) == 0 || b.Kind == "table" && len(b.Rows) == 0 {
			continue
		}
		parts = append(parts, wikiBlock(b))
	}
	return strings.Join(parts, "\n\n")
}

// ---- size ----

// units counts as Java does: UTF-16 code units.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// size is d's length as Jira measures it in the given flavor.
func (d doc) size(cloud bool) int {
	if cloud {
		return units(jsonText(d.adf()))
	}
	return units(d.wiki())
}

// fit returns d cut to limit, the blocks that fit kept whole, the next
// one shortened, and pointer appended; cut tells whether it cut.
func (d doc) fit(limit int, cloud bool, pointer block) (out doc, cut bool) {
	if d.size(cloud) <= limit {
		return d, false
	}
	with := func(blocks doc, extra ...block) doc {
		x := append(append(append(doc{}, blocks...), extra...), pointer)
		return x
	}
	// The most whole blocks that fit with the pointer.
	lo, hi := 0, len(d)
	for lo < hi {
		m := (lo + hi + 1) / 2
		if with(d[:m]).size(cloud) <= limit {
			lo = m
		} else {
			hi = m - 1
		}
	}
	k := lo
	if k < len(d) {
		if part, ok := shorten(d[k], func(b block) bool { return with(d[:k], b).size(cloud) <= limit }); ok {
			return with(d[:k], part), true
		}
	}
	return with(d[:k]), true
}

// shorten finds the longest cut of b that fits.
func shorten(b block, fits func(block) bool) (block, bool) {
	search := func(n int, cutAt func(int) block) (block, bool) {
		lo, hi := 0, n
		for lo < hi {
			m := (lo + hi + 1) / 2
			if fits(cutAt(m)) {
				lo = m
			} else {
				hi = m - 1
			}
		}
		if lo == 0 {
			return block{}, false
		}
		return cutAt(lo), true
	}
	switch b.Kind {
	case "code":
		r := []rune(b.Text)
		return search(len(r), func(n int) block { return codeBlock(string(r[:n]) + "\n…") })
	case "p", "h":
		total := 0
		for _, in := range b.Inl {
			total += len([]rune(in.Text))
		}
		return search(total, func(n int) block {
			c := b
			c.Inl = nil
			for _, in := range b.Inl {
				r := []rune(in.Text)
				if len(r) >= n {
					in.Text = string(r[:n])
					c.Inl = append(c.Inl, in, txt("…"))
					break
				}
				n -= len(r)
				c.Inl = append(c.Inl, in)
			}
			return c
		})
	case "table":
		if len(b.Rows) < 2 {
			return block{}, false
		}
		return search(len(b.Rows)-1, func(n int) block {
			c := b
			c.Rows = b.Rows[:1+n]
			return c
		})
	case "list":
		return search(len(b.Items), func(n int) block {
			c := b
			c.Items = b.Items[:n]
			return c
		})
	}
	return block{}, false
}

// ---- HTML ----

var (
	reSpaces  = regexp.MustCompile(`[ \t\r\f\v\x{a0}]+`)
	reNLSpace = regexp.MustCompile(` *\n *`)
	reNLs     = regexp.MustCompile(`\n{3,}`)
)

// htmlText converts KB HTML to inline runs: text with line breaks where
// blocks end, list items marked "- ", links kept (http/https only),
// entities decoded, every other tag dropped, script and style dropped
// with their content. It reads the HTML with the HTML5 tokenizer, so a
// quoted attribute holding ">" or a stray "<" is read as a browser reads
// it.
func htmlText(s string) []inline {
	var out []inline
	var sb strings.Builder
	href := ""
	flush := func() {
		if sb.Len() == 0 {
			return
		}
		out = append(out, inline{Text: sb.String(), Href: href})
		sb.Reset()
	}
	z := html.NewTokenizer(strings.NewReader(s))
	skip := false // inside script or style: their raw text is dropped
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF: reading a string fails in no other way
		}
		switch tt {
		case html.TextToken:
			if !skip {
				sb.Write(z.Text()) // entities decoded
			}
			continue
		case html.CommentToken, html.DoctypeToken:
			continue
		}
		name, hasAttr := z.TagName()
		closing := tt == html.EndTagToken
		skip = false
		switch atom.Lookup(name) {
		case atom.Script, atom.Style:
			skip = tt == html.StartTagToken
		case atom.A:
			flush()
			href = ""
			for hasAttr && !closing {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == "href" {
					href = safeHref(string(v))
					if strings.HasPrefix(strings.ToLower(href), "mailto:") {
						href = ""
					}
					break
				}
			}
		case atom.Br, atom.P, atom.Div, atom.Tr, atom.Table, atom.Ul, atom.Ol, atom.Pre, atom.Blockquote,
			atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Dl, atom.Dt, atom.Dd:
			sb.WriteByte('\n')
		case atom.Li:
			if !closing {
				sb.WriteString("\n- ")
			}
		case atom.Td, atom.Th:
			if closing {
				sb.WriteString(" ")
			}
		}
	}
	flush()
	// Normalize whitespace across runs.
	var res []inline
	for _, in := range out {
		t := reSpaces.ReplaceAllString(in.Text, " ")
		t = reNLSpace.ReplaceAllString(t, "\n")
		if t == "" {
			continue
		}
		in.Text = t
		res = append(res, in)
	}
	// Collapse blank lines and trim the ends.
	if len(res) == 0 {
		return nil
	}
	for i := range res {
		res[i].Text = reNLs.ReplaceAllString(res[i].Text, "\n\n")
	}
	res[0].Text = strings.TrimLeft(res[0].Text, " \n")
	res[len(res)-1].Text = strings.TrimRight(res[len(res)-1].Text, " \n")
	return dropEmpty(res)
}

func dropEmpty(in []inline) []inline {
	out := in[:0]
	for _, r := range in {
		if r.Text != "" {
			out = append(out, r)
		}
	}
	return out
}
