package jira

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// hostile are texts a scanned host or a KB entry may hold that Jira's
// wiki renderer would read as markup.
var hostile = []string{
	"h1. Owned", "H3. caps", "  h6. indented", "bq. quoted", "BQ. upper", "Bq. mixed", "line\nh2. second line",
	`C:\Windows\System32\drivers\etc\hosts`, `\\server\share`, `trailing\`,
	"{noformat}", "{NoFormat}", "{NOFORMAT:title=x}", "{code:java}x{code}", "{quote}q{quote}", "{color:red}red{color}",
	"{panel:title=x}p{panel}", "{anchor:a}", "{{mono}}", "{html}<b>x</b>{html}",
	"[http://evil.example|javascript:alert(1)]", "[~admin]", "[#anchor]", "!http://evil.example/x.png!", "!x.png|thumbnail!",
	"|a|b|", "||h||h||",
	"* item", "** nested", "# numbered", "#  spaced", "- dash", "---- rule", "--- em", "-- en", "a -- b",
	"*bold* _em_ ??cite?? -del- +ins+ ^sup^ ~sub~", "x*y*z", "a_b_c", "the -struck- word", "2^10^",
	":) :( :P :D :p :d ;) (y) (n) (i) (/) (x) (!) (+) (-) (?) (on) (off) (*) (*r) (flag) (flagoff) (Y) (ON)",
	"&lt;b&gt; &amp; &#42; &nbsp;", "<script>alert(1)</script>", "tab\there", "  lead and trail  ",
	"CVE-2020-15778 on 2025-12-20, v1.2-3", "snake_case and a+b and what?", "ünïcödé — «quotes»",
}

var (
	reEntity    = regexp.MustCompile(`&#[0-9]+;`)
	reLineStart = regexp.MustCompile(`(?im)^[ \t]*([*#-]|h[1-6]\.|bq\.)`)
)

// wikiProblems lists what in escaped wiki text the renderer could read
// as markup.
func wikiProblems(e string) []string {
	var bad []string
	plain := reEntity.ReplaceAllString(e, "\x00") // a reference is one inert character
	if i := strings.IndexAny(plain, `\*_+^~{}[]|!&`); i >= 0 {
		bad = append(bad, "markup character "+plain[i:i+1])
	}
	if strings.Contains(plain, "??") {
		bad = append(bad, "??")
	}
	if m := reLineStart.FindString(plain); m != "" {
		bad = append(bad, "line starting "+m)
	}
	for i := range len(plain) {
		if plain[i] == '-' && (i == 0 || i == len(plain)-1 || !isAlnum(rune(plain[i-1])) || !isAlnum(rune(plain[i+1]))) {
			bad = append(bad, "hyphen outside a word")
			break
		}
		if wikiEmoticon.MatchString(plain[i:]) {
			bad = append(bad, "emoticon "+plain[i:min(i+4, len(plain))])
			break
		}
	}
	return bad
}

// Every construct of the wiki renderer, in any case, comes out as text:
// nothing in the escaped text is markup, and the browser shows exactly
// the text that went in.
func TestWikiEscapeHostile(t *testing.T) {
	for _, v := range hostile {
		e := wikiEscape(v)
		if bad := wikiProblems(e); len(bad) > 0 {
			t.Errorf("%q escapes to %q: %s", v, e, strings.Join(bad, ", "))
		}
		if got := html.UnescapeString(e); got != v {
			t.Errorf("%q escapes to %q, which shows as %q", v, e, got)
		}
	}
	for in, want := range map[string]string{
		`C:\Windows`:          `C:&#92;Windows`,
		"h1. Owned":           "&#104;1. Owned",
		"{NoFormat}":          "&#123;NoFormat&#125;",
		"CVE-2020-15778":      "CVE-2020-15778", // hyphens inside words stay readable
		"what? and ??":        "what? and &#63;&#63;",
		"C# and #1\n# list":   "C# and #1\n&#35; list",
		"a (y) b (you)":       "a &#40;y) b (you)",
		"x :) y: z":           "x &#58;) y: z",
		"mail me@example.com": "mail me@example.com",
	} {
		if got := wikiEscape(in); got != want {
			t.Errorf("wikiEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Hostile text in every kind of block: the markup qvt writes is the only
// markup, and a code block is ended only by its own {noformat}.
func TestWikiBlocksHostile(t *testing.T) {
	all := strings.Join(hostile, "\n")
	const href = "https://example.com/a|b]c[d e{f}!g^h\\i"
	var cells []cell
	var items [][]inline
	d := doc{heading(3, all), para(txt(all))}
	for _, v := range hostile {
		cells = append(cells, cellText(v))
		items = append(items, []inline{txt(v)})
		one := strings.Join(strings.Fields(v), " ")
		d = append(d, para(bold(one), txt(" "), mono(one), txt(" "), link(one, href)))
	}
	d = append(d, table(row(cellText("Field"), cellText("Value")), cells), list(items...), codeBlock(all))
	w := d.wiki()
	code := "{noformat}\n" + noformatMacro.ReplaceAllString(all, "{ $1") + "\n{noformat}"
	if !strings.HasSuffix(w, code) {
		t.Fatalf("the code block is not last as written:\n%s", w)
	}
	if n := len(regexp.MustCompile(`(?i)\{noformat`).FindAllString(w, -1)); n != 2 {
		t.Errorf("%d {noformat} macros, want the 2 qvt writes", n)
	}
	// Take out the markup qvt writes; what is left must be inert.
	reRuns := regexp.MustCompile(`^\*(.+)\* \{\{(.+)\}\} \[(.+)\|([^|\]]+)\]$`)
	for _, line := range strings.Split(strings.TrimSuffix(w, code), "\n") {
		parts := []string{line}
		switch {
		case strings.HasPrefix(line, "h3. "):
			parts = []string{strings.TrimPrefix(line, "h3. ")}
		case strings.HasPrefix(line, "* "):
			parts = []string{strings.TrimPrefix(line, "* ")}
		case strings.HasPrefix(line, "||"):
			parts = strings.Split(strings.Trim(line, "|"), "||")
		case strings.HasPrefix(line, "|"):
			parts = strings.Split(strings.Trim(line, "|"), "|")
		case reRuns.MatchString(line):
			m := reRuns.FindStringSubmatch(line)
			if m[4] != "https://example.com/a%7Cb%5Dc%5Bd%20e%7Bf%7D%21g%5Eh%5Ci" {
				t.Errorf("link address %q", m[4])
			}
			parts = m[1:4]
		}
		for _, part := range parts {
			if bad := wikiProblems(part); len(bad) > 0 {
				t.Errorf("markup in %q: %s", part, strings.Join(bad, ", "))
			}
		}
	}
}

// Cloud descriptions are ADF: text nodes hold the text as it is, with
// nothing to escape, and links only http, https or mailto.
func TestADFHostile(t *testing.T) {
	for _, v := range hostile {
		a := jsonText(doc{para(txt(v), link(v, "javascript:alert(1)"))}.adf())
		var m struct {
			Content []struct {
				Content []struct {
					Type, Text string
					Marks      []any
				}
			}
		}
		if err := json.Unmarshal([]byte(a), &m); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, n := range m.Content[0].Content {
			switch n.Type {
			case "text":
				sb.WriteString(n.Text)
			case "hardBreak":
				sb.WriteString("\n")
			}
			if len(n.Marks) > 0 {
				t.Errorf("%q: marks %v on a text node", v, n.Marks)
			}
		}
		if got := sb.String(); got != v+v {
			t.Errorf("%q: ADF text %q", v, got)
		}
	}
}

// Values placed in json: custom field templates are escaped: a title
// with quotes, backslashes or a line break stays one JSON string, and
// cannot add a key or end the document.
func TestCustomFieldsJSONEscaped(t *testing.T) {
	c := &Config{CustomFields: map[string]string{
		"customfield_1": `json:{"value":"{{.Title}}"}`,
		"customfield_2": `json:[{{range $i, $t := .Tags}}{{if $i}},{{end}}"{{$t}}"{{end}}]`,
		"customfield_3": `{{.Title}}`,
	}}
	title := "x\", \"evil\": \"y\\\n</script>\u2028"
	tags := []string{`a"b`, `c\d`, "e\nf"}
	out, err := c.customFields(FieldData{Item: "k", Title: title, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	var one map[string]string
	if err := json.Unmarshal(out["customfield_1"], &one); err != nil || len(one) != 1 || one["value"] != title {
		t.Errorf("customfield_1 = %s (%v): want one key holding the title", out["customfield_1"], err)
	}
	var list []string
	if err := json.Unmarshal(out["customfield_2"], &list); err != nil || strings.Join(list, "|") != strings.Join(tags, "|") {
		t.Errorf("customfield_2 = %s (%v): want the tags", out["customfield_2"], err)
	}
	var plain string
	if err := json.Unmarshal(out["customfield_3"], &plain); err != nil || plain != strings.TrimSpace(title) {
		t.Errorf("customfield_3 = %s: want the title as it is", out["customfield_3"])
	}
	// A value outside quotes cannot pass for JSON of its own.
	c.CustomFields = map[string]string{"customfield_4": `json:{{.Title}}`}
	if _, err := c.customFields(FieldData{Item: "k", Title: `{"a":1}`}); err == nil {
		t.Errorf("a title placed bare in a json: template was taken as JSON")
	}
}
