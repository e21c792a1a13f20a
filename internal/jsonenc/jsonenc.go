// Package jsonenc appends JSON values to byte slices. qvt writes millions
// of findings; building them with append and escaping each string once is
// several times faster than encoding/json's reflection, and the output is
// the same JSON.
package jsonenc

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; U+2028 and U+2029 are escaped so the output is also
// safe inside a <script> or JavaScript source.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	b = StringBody(b, s)
	return append(b, '"')
}

// plain reports whether none of the 8 bytes of the word x needs a look:
// none is a control character, a quote, a backslash or part of a
// multi-byte character. It tests the 8 at once: the high bit of a byte of
// (x - n) &^ x is set where that byte of x is below n (n <= 0x80), and a
// byte equal to c is a byte of x ^ c below 1.
func plain(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^('"'*ones), x^('\\'*ones)
	return ((x-0x20*ones)&^x|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&highs == 0
}

// StringBody appends s escaped as String does, without the quotes: for a
// string built from several parts.
func StringBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most text needs no escape: skip it eight bytes at a time.
		for ; i+8 <= len(s); i += 8 {
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			if !plain(x) {
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// Strings appends a JSON array of strings; nil and empty give [].
func Strings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// Int appends an integer.
func Int(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// Bool appends true or false.
func Bool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// Score appends a CVSS score with one decimal (7.8, 10.0, 0.0).
func Score(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', 1, 64) }

// Object builds a flat JSON object of string fields: {"k":"v",...}.
type Object struct{ B []byte }

// Field adds "key":"value" (the key must need no escaping).
func (o *Object) Field(key, value string) {
	if len(o.B) == 0 {
		o.B = append(o.B, '{')
	} else {
		o.B = append(o.B, ',')
	}
	o.B = append(o.B, '"')
	o.B = append(o.B, key...)
	o.B = append(o.B, '"', ':')
	o.B = String(o.B, value)
}

// Close ends the object and returns it; an object with no fields is {}.
func (o *Object) Close() []byte {
	if len(o.B) == 0 {
		o.B = append(o.B, '{')
	}
	return append(o.B, '}')
}
