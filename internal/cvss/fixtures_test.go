package cvss

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureLine is one line of a Red Hat test-vector file (testdata/README.md).
type fixtureLine struct {
	n      int // line number
	vector string
	// want holds the expected scores; NaN where the file says None. v2/v3
	// lines have (base, temporal, env); v4 lines have one score, the score
	// of the whole vector.
	want []float64
}

func readFixture(t testing.TB, path string) []fixtureLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []fixtureLine
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		vec, exp, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			t.Fatalf("%s:%d: no \" - \" separator", path, n)
		}
		exp = strings.TrimSuffix(strings.TrimPrefix(exp, "("), ")")
		var want []float64
		for field := range strings.SplitSeq(exp, ",") {
			field = strings.TrimSpace(field)
			switch field {
			case "":
				continue // the trailing comma of "(9.2,)"
			case "None":
				want = append(want, math.NaN())
				continue
			}
			x, err := strconv.ParseFloat(field, 64)
			if err != nil {
				t.Fatalf("%s:%d: expected score %q: %v", path, n, field, err)
			}
			want = append(want, x+0) // "-0.0" is 0
		}
		lines = append(lines, fixtureLine{n: n, vector: vec, want: want})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// fixtureVersion is the CVSS version of the vectors of a fixture file.
func fixtureVersion(file string) string {
	switch {
	case strings.HasSuffix(file, "4"):
		return "4.0"
	case strings.HasSuffix(file, "31"):
		return "3.1"
	case strings.HasSuffix(file, "3"):
		return "3.0"
	default:
		return "2.0"
	}
}

// TestFixtures checks every line of every Red Hat vector file.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors_*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 11 {
		t.Fatalf("found %d fixture files, want 11", len(files))
	}
	total := 0
	for _, path := range files {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			lines := readFixture(t, path)
			if len(lines) == 0 {
				t.Fatal("no vectors")
			}
			version := fixtureVersion(file)
			mismatches := 0
			for _, l := range lines {
				got, err := Score(l.vector, nil)
				if err != nil {
					t.Errorf("line %d: %v", l.n, err)
					mismatches++
					continue
				}
				if got.Version != version {
					t.Errorf("line %d: %s: version %q, want %q", l.n, l.vector, got.Version, version)
				}
				if !matches(got, l.want, file) {
					t.Errorf("line %d: %s: got (%.1f, %.1f, %.1f), want %v",
						l.n, l.vector, got.Base, got.Temporal, got.Environmental, l.want)
					mismatches++
				}
			}
			t.Logf("%s: %d vectors, %d mismatches", file, len(lines), mismatches)
			total += len(lines)
		})
	}
	t.Logf("%d vectors checked", total)
}

func matches(got Scores, want []float64, file string) bool {
	if got.Version == "4.0" {
		if len(want) != 1 {
			return false
		}
		// These files hold base vectors, with supplemental metrics in
		// vectors_supplemental4, which must not change the score: all three
		// of ours equal the file's.
		if file == "vectors_simple4" || file == "vectors_supplemental4" {
			return got.Base == want[0] && got.Temporal == want[0] && got.Environmental == want[0]
		}
		return got.Environmental == want[0]
	}
	if len(want) != 3 {
		return false
	}
	for i, g := range []float64{got.Base, got.Temporal, got.Environmental} {
		if !math.IsNaN(want[i]) && g != want[i] {
			return false
		}
	}
	return true
}
