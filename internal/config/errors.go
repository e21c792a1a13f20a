package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileError is a mistake in the configuration file, at a line and a key.
// Its message never holds the value written there: a value in the wrong
// place may be a password.
type FileError struct {
	File string
	Line int    // 1-based; 0 when unknown
	Key  string // the key's path, e.g. qualys.username; "" for the document
	Msg  string
}

// Error reads file:line: key: message, as editors and compilers write it.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// checkFile checks the file's document against the configuration's type
// before it is decoded: unknown keys (with the nearest valid one), values
// of the wrong shape or kind. It returns what the decoder will want at
// each line, so that an error the decoder still finds can be told in the
// same words.
func checkFile(doc *yaml.Node, t reflect.Type) (map[int]*FileError, error) {
	c := &checker{lines: map[int]*FileError{}}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return c.lines, nil
		}
		doc = doc.Content[0]
	}
	return c.lines, c.check(doc, t, "")
}

type checker struct {
	lines map[int]*FileError
	depth int
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
	sizeType        = reflect.TypeFor[Size]()
)

func (c *checker) check(n *yaml.Node, t reflect.Type, path string) error {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 64 {
		return &FileError{Line: n.Line, Key: path, Msg: "nested too deep"}
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := describe(t)
	c.lines[n.Line] = &FileError{Line: n.Line, Key: path, Msg: "want " + want}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value leaves the default
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		return nil // the type reads itself: the decoder says what is wrong
	}
	bad := func() error {
		return &FileError{Line: n.Line, Key: path, Msg: "want " + want + ", not " + shape(n)}
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return bad()
		}
		keys := yamlKeys(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // a merge: its keys are checked where the anchor is
			}
			f, ok := keys[k.Value]
			if !ok {
				return &FileError{Line: k.Line, Key: join(path, k.Value), Msg: unknownKey(k.Value, keys)}
			}
			if err := c.check(v, t.FieldByIndex(f).Type, join(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return bad()
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := c.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return bad()
		}
		for i, e := range n.Content {
			if err := c.check(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Interface:
	default:
		if n.Kind != yaml.ScalarNode {
			return bad()
		}
		if !scalarFits(n, t) {
			return &FileError{Line: n.Line, Key: path, Msg: "want " + want}
		}
	}
	return nil
}

// scalarFits tells whether a scalar can be decoded into t, by its tag.
func scalarFits(n *yaml.Node, t reflect.Type) bool {
	tag := n.ShortTag()
	switch {
	case t == durationType:
		return tag == "!!str" || tag == "!!int"
	case t.Kind() == reflect.String:
		return true
	case t.Kind() == reflect.Bool:
		return tag == "!!bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return tag == "!!int"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return tag == "!!int" || tag == "!!float"
	}
	return true
}

// describe names what a value of type t is written as.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 10m"
	case t == sizeType:
		return "a size such as 1MiB, 64KiB or 4096 (bytes)"
	case t.Kind() == reflect.String:
		return "a text value"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "a whole number, 0 or more"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Struct:
		return "a mapping of keys (" + strings.Join(slices.Sorted(mapKeys(yamlKeys(t))), ", ") + ")"
	case t.Kind() == reflect.Map:
		return "a mapping"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "a list"
	}
	return "a value"
}

// shape names what a node is, never its value.
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

// yamlKeys maps the YAML keys of a struct to its fields.
func yamlKeys(t reflect.Type) map[string][]int {
	keys := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, idx := range yamlKeys(f.Type) {
				keys[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys[name] = []int{i}
	}
	return keys
}

func mapKeys(m map[string][]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// unknownKey tells that key is not one of keys, with the nearest valid
// key when one is near enough to be a misspelling, else the valid keys.
func unknownKey(key string, keys map[string][]int) string {
	names := slices.Sorted(mapKeys(keys))
	best, bestD := "", -1
	for _, k := range names {
		if d := levenshtein(strings.ToLower(key), k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(best)/3) {
		return "unknown key (did you mean " + best + "?)"
	}
	return "unknown key (valid keys: " + strings.Join(names, ", ") + ")"
}

// levenshtein is the edit distance between a and b (insertions,
// deletions and substitutions of bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError rewrites an error of the YAML parser: its line, and its
// message when it is about the text's syntax.
func syntaxError(err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &FileError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return &FileError{Line: line, Msg: "not valid YAML: " + m[2]}
}

// decodeError rewrites an error of the decoder in the words of checkFile,
// by its line: the decoder's own messages quote the value.
func decodeError(err error, lines map[int]*FileError) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(err)
	}
	for _, msg := range te.Errors {
		m := yamlLine.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		if fe, ok := lines[line]; ok {
			return fe
		}
		return &FileError{Line: line, Msg: "a value of the wrong kind"}
	}
	return &FileError{Msg: fmt.Sprintf("%d values of the wrong kind", len(te.Errors))}
}
