package web

import (
	"strconv"
	"strings"
)

// dialect is the SQL the dashboard writes differently for the store's two
// engines; every other query is the same text on both (the store rebinds
// ? to $N for PostgreSQL). What differs:
//
//   - SQLite gets index hints (INDEXED BY, a unary + that keeps a column's
//     index out of a plan): its planner, without statistics of the
//     detections table, would walk the wrong index. PostgreSQL has no
//     such syntax, and its planner has statistics.
//   - A list of QIDs or hosts in one parameter: SQLite's json_each,
//     PostgreSQL's json_array_elements_text.
//   - SQLite's NOCASE and LIKE fold ASCII letters only; PostgreSQL's =
//     and LIKE fold nothing. PostgreSQL folds with translate() over the
//     ASCII letters, so both engines match the same names.
//   - PostgreSQL types a VALUES list of parameters as text and has no
//     CROSS JOIN … ON (SQLite's way to fix the join order), and booleans
//     are not integers there.
type dialect struct{ pg bool }

func newDialect(engine string) dialect { return dialect{pg: engine == "postgres"} }

// indexed is SQLite's hint to read a table through index, with a leading
// space; "" on PostgreSQL.
func (d dialect) indexed(index string) string {
	if d.pg || index == "" {
		return ""
	}
	return " INDEXED BY " + index
}

// noIndex is the prefix that keeps SQLite from using an index for a
// condition on a column: "+" on SQLite, "" on PostgreSQL (where + is no
// operator of text).
func (d dialect) noIndex() string {
	if d.pg {
		return ""
	}
	return "+"
}

// inInts is "col is one of a list of integers" with the list in one
// parameter, whose value is ints' (as many QIDs as a title search finds
// take one parameter). SQLite reads a JSON array with json_each;
// PostgreSQL tests an array, = ANY(…): a filter on the index walk, where
// IN (subquery) would become a join and lose the walk's order.
func (d dialect) inInts(col string) string {
	if d.pg {
		return col + " = ANY(?::bigint[])"
	}
	return col + " IN (SELECT value FROM json_each(?))"
}

// ints is the parameter of inInts: a JSON array for SQLite, an array
// literal for PostgreSQL.
func ints[T int | int64](d dialect, list []T) string {
	var sb strings.Builder
	sb.WriteByte("[{"[b2i(d.pg)])
	for i, n := range list {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(int64(n), 10))
	}
	sb.WriteByte("]}"[b2i(d.pg)])
	return sb.String()
}

// gather is the sizes of sets the list reads whole and sorts rather than
// walking an index in order. PostgreSQL walks an index several times
// slower per entry than SQLite (a visibility check each), so a common
// QID's set is worth sorting up to twice SQLite's size; larger sets (a
// title word's hundred QIDs) walk faster, the QIDs tested on each entry
// with = ANY. Measured on a million findings (bench_test.go): a QID of
// 9,500 detections sorted in 35-85 ms rather than walked in 210 ms; 128
// QIDs of 17,700 walked in 25-100 ms rather than sorted in 150-290 ms.
// The host order walks the table, whose rows PostgreSQL reads in the
// order an import wrote them, a few µs each, where a set is read at
// random, 6-15 µs a row (more before vacuum has marked the pages):
// measured right after a first import of 400,000 findings, sets of
// 18,000-26,000 took 110-360 ms to read, walks 5-30 ms.
func (d dialect) gather() gatherLimits {
	g := defaultGather
	if d.pg {
		g.qids, g.hostRanges = 10000, 3000
	}
	return g
}

const asciiUpper, asciiLower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"

// fold is an expression of x with its ASCII letters in lower case, on
// PostgreSQL: SQLite's NOCASE, which leaves other letters alone.
func fold(x string) string {
	return "translate(" + x + ", '" + asciiUpper + "', '" + asciiLower + "')"
}

// equalFold is col = param, ignoring the case of ASCII letters; param is
// a numbered parameter (?1), which the SQL may name twice. On
// PostgreSQL lower() tests first, a tenth of translate's cost: it folds
// more letters, so what it rejects translate would too, and translate
// then rejects what differs in other letters' case.
func (d dialect) equalFold(col, param string) string {
	if d.pg {
		return "(lower(" + col + ") = lower(" + param + ") AND " + fold(col) + " = " + fold(param) + ")"
	}
	return col + " = " + param + " COLLATE NOCASE"
}

// likeFold is col LIKE param ESCAPE '\', ignoring the case of ASCII
// letters as SQLite's LIKE does; param is numbered, as equalFold's.
func (d dialect) likeFold(col, param string) string {
	if d.pg {
		return "(lower(" + col + ") LIKE lower(" + param + `) ESCAPE '\' AND ` + fold(col) + " LIKE " + fold(param) + ` ESCAPE '\')`
	}
	return col + " LIKE " + param + ` ESCAPE '\'`
}

// keyRow is one row of the VALUES list of a page's keys (host, QID, port,
// position).
func (d dialect) keyRow() string {
	if d.pg {
		return "(?::bigint,?::bigint,?::bigint,?::bigint)"
	}
	return "(?,?,?,?)"
}

// fixedJoin joins the table that follows to the one before, in that
// order: SQLite's CROSS JOIN; PostgreSQL orders joins itself.
func (d dialect) fixedJoin() string {
	if d.pg {
		return " JOIN "
	}
	return " CROSS JOIN "
}

// undated is the sort key of a finding without a deadline, 1 or 0: those
// come after the dated ones.
func (d dialect) undated() string {
	if d.pg {
		return "(breach_date = '')::int"
	}
	return "breach_date = ''"
}

// undatedDue is undated's for the due date (the priority order).
func (d dialect) undatedDue() string {
	if d.pg {
		return "(due_date = '')::int"
	}
	return "due_date = ''"
}
