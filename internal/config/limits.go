package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"qvt/internal/load"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
	"qvt/internal/retry"
)

// Limits bound what a file or an API answer can make qvt read, hold and
// wait for (the limits: section). A zero or omitted value is the default;
// every one has a ceiling, so that a typo cannot switch a limit off.
type Limits struct {
	FieldText     Size          `yaml:"field_text"`     // Qualys XML: text of one field
	Tag           Size          `yaml:"tag"`            // Qualys XML: one start or end tag with its attributes
	Comment       Size          `yaml:"comment"`        // Qualys XML: one comment or processing instruction
	CDATA         Size          `yaml:"cdata"`          // Qualys XML: one CDATA section
	Doctype       Size          `yaml:"doctype"`        // Qualys XML: the DOCTYPE declaration
	Depth         int           `yaml:"depth"`          // Qualys XML: element nesting
	Record        Size          `yaml:"record"`         // Qualys XML: memory of one HOST or VULN
	ErrorPath     int           `yaml:"error_path"`     // Qualys XML: elements shown in an error's path
	QDSFactors    int           `yaml:"qds_factors"`    // Qualys XML: QDS_FACTOR elements of one detection
	JSONString    Size          `yaml:"json_string"`    // NVD JSON: one string value
	JSONValue     Size          `yaml:"json_value"`     // NVD JSON: one value held whole
	GzipRatio     int           `yaml:"gzip_ratio"`     // import: decompressed/compressed bytes of a .gz
	GzipFloor     Size          `yaml:"gzip_floor"`     // import: decompressed bytes allowed before gzip_ratio applies
	IDList        int           `yaml:"id_list"`        // sync: ids one Qualys id list may hold
	ConnectBudget time.Duration `yaml:"connect_budget"` // sync: retrying a server that cannot be reached
	MaxWait       time.Duration `yaml:"max_wait"`       // sync: longest wait an API may ask for (--max-wait)
	BodyTimeout   time.Duration `yaml:"body_timeout"`   // sync: reading one response body
}

// DefaultLimits are the limits of a configuration that sets none: the
// decoders', the loader's and the clients' own defaults.
func DefaultLimits() Limits {
	q, n, l := qualys.DefaultLimits, nvd.DefaultLimits, load.DefaultLimits
	return Limits{
		FieldText: Size(q.Text), Tag: Size(q.Tag), Comment: Size(q.Comment), CDATA: Size(q.CDATA),
		Doctype: Size(q.Doctype), Depth: q.Depth, Record: Size(q.Record), ErrorPath: q.Path, QDSFactors: q.QDSFactors,
		JSONString: Size(n.String), JSONValue: Size(n.Value),
		GzipRatio: int(l.GzipRatio), GzipFloor: Size(l.GzipFloor),
		IDList:        qualys.DefaultMaxIDs,
		ConnectBudget: retry.DefaultConnectBudget,
		MaxWait:       retry.DefaultMaxWait,
		BodyTimeout:   retry.DefaultBodyTimeout,
	}
}

// check refuses negative values and values past their ceiling, naming the
// key, and replaces zeros with the defaults.
func (l *Limits) check() error {
	d := DefaultLimits()
	type intKey struct {
		key    string
		v, def *int
		max    int
	}
	sizes := []struct {
		key    string
		v, def *Size
		max    Size
	}{
		{"field_text", &l.FieldText, &d.FieldText, GiB},
		{"tag", &l.Tag, &d.Tag, 16 * MiB},
		{"comment", &l.Comment, &d.Comment, GiB},
		{"cdata", &l.CDATA, &d.CDATA, GiB},
		{"doctype", &l.Doctype, &d.Doctype, GiB},
		{"record", &l.Record, &d.Record, 4 * GiB},
		{"json_string", &l.JSONString, &d.JSONString, GiB},
		{"json_value", &l.JSONValue, &d.JSONValue, 4 * GiB},
		{"gzip_floor", &l.GzipFloor, &d.GzipFloor, 1024 * GiB},
	}
	for _, s := range sizes {
		switch {
		case *s.v < 0:
			return fmt.Errorf("limits.%s: %s is negative (0 or omitted is the default, %s)", s.key, *s.v, *s.def)
		case *s.v > s.max:
			return fmt.Errorf("limits.%s: %s is more than the most allowed, %s (the default is %s)", s.key, *s.v, s.max, *s.def)
		case *s.v == 0:
			*s.v = *s.def
		}
	}
	ints := []intKey{
		{key: "depth", v: &l.Depth, def: &d.Depth, max: 10_000},
		{key: "error_path", v: &l.ErrorPath, def: &d.ErrorPath, max: 1000},
		{key: "qds_factors", v: &l.QDSFactors, def: &d.QDSFactors, max: 100_000},
		{key: "gzip_ratio", v: &l.GzipRatio, def: &d.GzipRatio, max: 100_000},
		{key: "id_list", v: &l.IDList, def: &d.IDList, max: 1_000_000_000},
	}
	for _, s := range ints {
		switch {
		case *s.v < 0:
			return fmt.Errorf("limits.%s: %d is negative (0 or omitted is the default, %d)", s.key, *s.v, *s.def)
		case *s.v > s.max:
			return fmt.Errorf("limits.%s: %d is more than the most allowed, %d (the default is %d)", s.key, *s.v, s.max, *s.def)
		case *s.v == 0:
			*s.v = *s.def
		}
	}
	durs := []struct {
		key    string
		v, def *time.Duration
		max    time.Duration
	}{
		{"connect_budget", &l.ConnectBudget, &d.ConnectBudget, 24 * time.Hour},
		{"max_wait", &l.MaxWait, &d.MaxWait, 24 * time.Hour},
		{"body_timeout", &l.BodyTimeout, &d.BodyTimeout, 7 * 24 * time.Hour},
	}
	for _, s := range durs {
		switch {
		case *s.v < 0:
			return fmt.Errorf("limits.%s: %v is negative (0 or omitted is the default, %v)", s.key, *s.v, *s.def)
		case *s.v > s.max:
			return fmt.Errorf("limits.%s: %v is more than the most allowed, %v (the default is %v)", s.key, *s.v, s.max, *s.def)
		case *s.v == 0:
			*s.v = *s.def
		}
	}
	return nil
}

// Qualys is the Qualys decoders' limits.
func (l Limits) Qualys() qualys.Limits {
	return qualys.Limits{
		Text: int(l.FieldText), Tag: int(l.Tag), Comment: int(l.Comment), CDATA: int(l.CDATA),
		Doctype: int(l.Doctype), Depth: l.Depth, Record: int(l.Record), Path: l.ErrorPath, QDSFactors: l.QDSFactors,
	}
}

// NVD is the NVD decoder's limits.
func (l Limits) NVD() nvd.Limits {
	return nvd.Limits{String: int(l.JSONString), Value: int(l.JSONValue)}
}

// Load is the limits of an import.
func (l Limits) Load() load.Limits {
	return load.Limits{Qualys: l.Qualys(), NVD: l.NVD(), GzipRatio: int64(l.GzipRatio), GzipFloor: int64(l.GzipFloor)}
}

// Size is a number of bytes, written as a whole number or with a KiB, MiB
// or GiB suffix (1MiB = 1048576).
type Size int64

// The units a Size may be written in.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

var units = []struct {
	suffix string
	n      Size
}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}}

// ParseSize reads a size: digits, optionally followed by KiB, MiB or GiB
// (a space between is allowed).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := Size(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	neg := strings.HasPrefix(t, "-")
	digits := strings.TrimPrefix(t, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, errors.New("not a size (a whole number of bytes, or one with KiB, MiB or GiB)")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(1<<62)/int64(mult) {
		return 0, errors.New("size too large")
	}
	if neg {
		n = -n
	}
	return Size(n) * mult, nil
}

// String writes s in the largest unit that divides it.
func (s Size) String() string {
	for _, u := range units {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// UnmarshalYAML reads a size. Its error is a *yaml.TypeError at the
// value's line, which the file's checker tells with the key.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: not a size", n.Line)}}
	}
	*s = v
	return nil
}

// MarshalYAML writes a size as it would be written in the file.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
