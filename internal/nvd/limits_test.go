package nvd

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"qvt/internal/crafted"
)

const (
	apiHead = `{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2024-0001",`
	apiTail = `}}]}`
)

// Crafted documents end at the first limit they pass with one short line
// naming the offset, the place and the limit, having held little.
func TestLimits(t *testing.T) {
	mib := int64(1 << 20)
	cases := []struct {
		name   string
		lim    Limits
		r      io.Reader
		want   []string
		allocs uint64 // bytes Decode may allocate in all
	}{
		{"long description", Limits{}, crafted.Stream(apiHead+`"descriptions":[{"lang":"en","value":"`, "d", mib+1, `"}]`+apiTail),
			[]string{fmt.Sprintf("nvd: byte %d ", len(apiHead+`"descriptions":[{"lang":"en","value":`)), "(vulnerabilities[0].cve.descriptions[0].value, CVE-2024-0001): string longer than 1048576 bytes (limit string)"}, 16 << 20},
		{"long escaped description", Limits{}, crafted.Stream(apiHead+`"descriptions":[{"lang":"en","value":"`, `\u00e9`, mib/2+1, `"}]`+apiTail),
			[]string{"CVE-2024-0001", "limit string"}, 32 << 20},
		{"endless description", Limits{}, crafted.Stream(apiHead+`"descriptions":[{"lang":"en","value":"`, "ddddddddddddddddddddddddddddddddddddddd", 1<<30, `"}]`+apiTail),
			[]string{"vulnerabilities[0].cve.descriptions[0].value", "a value longer than 16777216 bytes (limit value)"}, 160 << 20},
		{"endless configurations", Limits{Value: 4 << 20}, crafted.Stream(apiHead+`"configurations":[`, `{"nodes":[{"operator":"OR","cpeMatch":[]}]},`, 1<<26, `{}]`+apiTail),
			[]string{"vulnerabilities[0].cve.configurations", "limit value"}, 48 << 20},
		{"endless string in another document", Limits{Value: 4 << 20}, crafted.Stream(`{"other":"`, "x", 1<<32, `"}`),
			[]string{"nvd: byte 9 (other): a value longer than 4194304 bytes (limit value)"}, 48 << 20},
		{"deep nesting", Limits{}, crafted.Stream(apiHead+`"configurations":`, "[", 1<<20, ""),
			[]string{"vulnerabilities[0].cve.configurations, CVE-2024-0001): exceeded max depth"}, 32 << 20},
	}
	offset := regexp.MustCompile(`^nvd: byte \d+ `)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n := 0
			_, err := c.lim.Decode(c.r, func(*CVE) error { n++; return nil })
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("accepted (%d records)", n)
			}
			msg := err.Error()
			var fe *FormatError
			if !errors.As(err, &fe) || !offset.MatchString(msg) {
				t.Errorf("error %q is not a FormatError with an offset", msg)
			}
			if len(msg) >= 300 || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error is not one line under 300 characters (%d): %.400q", len(msg), msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if n != 0 {
				t.Errorf("%d records passed on", n)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > c.allocs {
				t.Errorf("allocated %d MiB", grew>>20)
			}
		})
	}
}

// A description at the limit passes, and limits can be raised per decode.
func TestLimitsAccept(t *testing.T) {
	mib := int64(1 << 20)
	var got *CVE
	if _, err := Decode(crafted.Stream(apiHead+`"descriptions":[{"lang":"en","value":"`, "d", mib, `"}]`+apiTail), func(c *CVE) error { got = c; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got.Description) != 1<<20 {
		t.Errorf("description of %d bytes", len(got.Description))
	}
	if _, err := (Limits{String: 2 << 20}).Decode(crafted.Stream(apiHead+`"descriptions":[{"lang":"en","value":"`, "d", mib+1, `"}]`+apiTail), nil); err != nil {
		t.Errorf("with a 2 MiB string limit: %v", err)
	}
}
