package jiratest

import (
	"fmt"
	"slices"
	"strings"
)

// query is the JQL subset the double understands: clauses joined by AND,
// each "field = value", "field != value" or "field in (v, ...)", on
// project, labels, key, status and statusCategory; then an optional
// ORDER BY.
type query struct {
	clauses []clause
	desc    bool
}

type clause struct {
	field  string
	not    bool
	values []string
}

func (q query) bounded() bool {
	for _, c := range q.clauses {
		if !c.not {
			return true
		}
	}
	return false
}

func (q query) match(is *Issue) bool {
	for _, c := range q.clauses {
		var have []string
		switch c.field {
		case "project":
			have = []string{is.Project}
		case "labels":
			have = is.Labels
		case "key", "issuekey":
			have = []string{is.Key}
		case "status":
			have = []string{is.Status}
		}
		hit := false
		for _, v := range c.values {
			if slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, v) }) {
				hit = true
			}
		}
		if hit == c.not {
			return false
		}
	}
	return true
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == ',' || c == '=':
			toks = append(toks, string(c))
			i++
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, "!=")
			i += 2
		case c == '"' || c == '\'':
			var sb strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				sb.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("Error in the JQL Query: The quoted string '%s' has not been completed.", s[i:])
			}
			toks = append(toks, "\x00"+sb.String())
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n(),=!\"'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseJQL(s string) (query, error) {
	var q query
	toks, err := tokenize(s)
	if err != nil {
		return q, err
	}
	val := func(t string) string { return strings.TrimPrefix(t, "\x00") }
	i := 0
	for i < len(toks) {
		if strings.EqualFold(toks[i], "ORDER") {
			rest := strings.ToLower(strings.Join(toks[i:], " "))
			q.desc = strings.HasSuffix(rest, " desc")
			break
		}
		if len(q.clauses) > 0 {
			if !strings.EqualFold(toks[i], "AND") {
				return q, fmt.Errorf("Error in the JQL Query: Expecting either 'OR' or 'AND' but got '%s'.", val(toks[i]))
			}
			i++
		}
		if i+1 >= len(toks) {
			return q, fmt.Errorf("Error in the JQL Query: the query ends early.")
		}
		c := clause{field: strings.ToLower(val(toks[i]))}
		switch c.field {
		case "project", "labels", "key", "issuekey", "status":
		default:
			return q, fmt.Errorf("Field '%s' does not exist or you do not have permission to view it.", val(toks[i]))
		}
		op := strings.ToLower(toks[i+1])
		i += 2
		switch op {
		case "=", "!=":
			if i >= len(toks) {
				return q, fmt.Errorf("Error in the JQL Query: Expecting a value after '%s'.", op)
			}
			c.not = op == "!="
			c.values = []string{val(toks[i])}
			i++
		case "in", "not":
			if op == "not" {
				if i >= len(toks) || !strings.EqualFold(toks[i], "in") {
					return q, fmt.Errorf("Error in the JQL Query: Expecting 'in' after 'not'.")
				}
				c.not = true
				i++
			}
			if i >= len(toks) || toks[i] != "(" {
				return q, fmt.Errorf("Error in the JQL Query: Expecting '(' after 'in'.")
			}
			i++
			for i < len(toks) && toks[i] != ")" {
				if toks[i] != "," {
					c.values = append(c.values, val(toks[i]))
				}
				i++
			}
			if i >= len(toks) {
				return q, fmt.Errorf("Error in the JQL Query: Expecting ')' before the end of the query.")
			}
			i++
		default:
			return q, fmt.Errorf("Error in the JQL Query: The operator '%s' is not supported here.", op)
		}
		q.clauses = append(q.clauses, c)
	}
	return q, nil
}
