package load

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/crafted"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// detectionsDoc is a host detection list with one host and one detection
// whose FIRST_FOUND_DATETIME is first.
func detectionsDoc(first string) string {
	return `<?xml version="1.0" encoding="UTF-8" ?>
<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2022-05-01T00:00:00Z</DATETIME><HOST_LIST><HOST>
<ID>1</ID><IP>10.0.0.1</IP><TRACKING_METHOD>IP</TRACKING_METHOD>
<DETECTION_LIST><DETECTION><QID>38170</QID><TYPE>Confirmed</TYPE><SEVERITY>3</SEVERITY><PORT>443</PORT><PROTOCOL>tcp</PROTOCOL>
<STATUS>Active</STATUS><FIRST_FOUND_DATETIME>` + first + `</FIRST_FOUND_DATETIME><LAST_FOUND_DATETIME>2022-04-30T00:00:00Z</LAST_FOUND_DATETIME>
</DETECTION></DETECTION_LIST></HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>
`
}

// openStore opens a new, empty store on be.
func openStore(t *testing.T, be storetest.Backend) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), be.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func count(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A time that does not exist (February 31st, second 60) is refused with
// the file, the host, the QID, the field and the value, and nothing is
// stored; it used to be moved to the next month or minute.
func TestImportRefusesTimesThatDoNotExist(t *testing.T) {
	storetest.Each(t, testImportRefusesTimesThatDoNotExist)
}

func testImportRefusesTimesThatDoNotExist(t *testing.T, be storetest.Backend) {
	for _, bad := range []string{"2022-02-31T00:00:00Z", "2022-04-26T04:00:60Z"} {
		st := openStore(t, be)
		p := writeFile(t, "hld.xml", detectionsDoc(bad))
		l := &Loader{Policy: assess.DefaultPolicy()}
		_, err := l.Files(context.Background(), st, []string{p})
		if err == nil {
			t.Fatalf("%s: imported", bad)
		}
		msg := err.Error()
		for _, want := range []string{p + ":", "host 1", "qid 38170", "FIRST_FOUND_DATETIME", `"` + bad + `"`} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q does not name %q", bad, msg, want)
			}
		}
		if strings.Contains(msg, "\n") || len(msg) > 300 {
			t.Errorf("error is not one short line: %q", msg)
		}
		if n := count(t, st, "detections"); n != 0 {
			t.Errorf("%s: %d detections stored", bad, n)
		}
	}
	// The same file with a real date imports.
	st := openStore(t, be)
	l := &Loader{Policy: assess.DefaultPolicy()}
	if _, err := l.Files(context.Background(), st, []string{writeFile(t, "hld.xml", detectionsDoc("2022-02-28T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "detections"); n != 1 {
		t.Errorf("%d detections stored, want 1", n)
	}
}

// writeCrafted writes prefix, fill n times and suffix to a file, gzipped
// when the name ends in .gz, streaming.
func writeCrafted(t *testing.T, name, prefix, fill string, n int64, suffix string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = f
	var gz *gzip.Writer
	if strings.HasSuffix(name, ".gz") {
		gz = gzip.NewWriter(f)
		w = gz
	}
	src := crafted.Stream(prefix, fill, n, suffix)
	if _, err := io.Copy(w, src); err != nil {
		t.Fatal(err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Crafted files end with one line naming the file, the byte offset and
// the limit, and the store is unchanged.
func TestImportLimits(t *testing.T) { storetest.Each(t, testImportLimits) }

func testImportLimits(t *testing.T, be storetest.Backend) {
	const kbHead = `<?xml version="1.0" encoding="UTF-8" ?><KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2024-01-01T00:00:00Z</DATETIME><VULN_LIST><VULN><QID>105936</QID><TITLE>t</TITLE>`
	const kbTail = `</VULN></VULN_LIST></RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`
	doc := detectionsDoc("2022-02-28T00:00:00Z")
	cut := strings.Index(doc, "<DETECTION_LIST>")
	cases := []struct {
		name string
		lim  Limits
		path func(t *testing.T) string
		want []string
	}{
		{"long DIAGNOSIS", Limits{}, func(t *testing.T) string {
			return writeCrafted(t, "kb.xml", kbHead+`<DIAGNOSIS>`, "x", 1<<20+1, `</DIAGNOSIS>`+kbTail)
		}, []string{fmt.Sprintf("kb.xml: byte %d ", len(kbHead+`<DIAGNOSIS>`)), "qid 105936", "limit text"}},
		{"gzip bomb", Limits{GzipFloor: 1 << 20}, func(t *testing.T) string {
			// 20 MB of whitespace between elements, which no other limit
			// bounds, compressed about a thousand times.
			return writeCrafted(t, "hld.xml.gz", doc[:cut], " ", 20<<20, doc[cut:])
		}, []string{"hld.xml.gz (gzip, offsets in decompressed bytes): byte ", "gzip: expands more than 200 times (limit gzip_ratio, beyond the first 1 MiB)"}},
		{"comment in a gzip file", Limits{}, func(t *testing.T) string {
			return writeCrafted(t, "hld.xml.gz", doc[:cut]+"<!--", "-", 1<<22, "-->"+doc[cut:])
		}, []string{fmt.Sprintf("hld.xml.gz (gzip, offsets in decompressed bytes): byte %d ", cut), "limit comment"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t, be)
			l := &Loader{Policy: assess.DefaultPolicy(), Limits: c.lim}
			_, err := l.Files(context.Background(), st, []string{c.path(t)})
			if err == nil {
				t.Fatal("imported")
			}
			msg := err.Error()
			if len(msg) >= 300+len(t.TempDir()) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one short line: %.400q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, table := range []string{"kb_vulns", "hosts", "detections"} {
				if n := count(t, st, table); n != 0 {
					t.Errorf("%d rows in %s", n, table)
				}
			}
		})
	}
	// The same whitespace, under the ratio, imports.
	st := openStore(t, be)
	l := &Loader{Policy: assess.DefaultPolicy()}
	if _, err := l.Files(context.Background(), st, []string{writeCrafted(t, "hld.xml.gz", doc[:cut], " ", 1<<20, doc[cut:])}); err != nil {
		t.Fatal(err)
	}
}

// A first import writes its detections without their secondary indexes
// and builds them before it commits; one that fails leaves them as they
// were. On PostgreSQL the indexes are dropped ahead of the import's own
// transaction (store.DeferIndexes), so this is the loader's doing.
func TestFirstImportIndexes(t *testing.T) { storetest.Each(t, testFirstImportIndexes) }

func testFirstImportIndexes(t *testing.T, be storetest.Backend) {
	ctx := context.Background()
	st := openStore(t, be)
	indexes := func() string {
		t.Helper()
		q := "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL ORDER BY name)"
		if st.Engine() == "postgres" {
			q = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'detections'"
		}
		var s string
		if err := st.DB().QueryRow(q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := indexes()
	if !strings.Contains(want, "detections_qid") {
		t.Fatalf("the schema's detection indexes are %q", want)
	}
	l := &Loader{Policy: assess.DefaultPolicy()}
	if _, err := l.Files(ctx, st, []string{writeFile(t, "bad.xml", detectionsDoc("2022-02-31T00:00:00Z"))}); err == nil {
		t.Fatal("a detection on February 31st imported")
	}
	if got := indexes(); got != want {
		t.Errorf("after a failed first import the indexes are %q, want %q", got, want)
	}
	if _, err := l.Files(ctx, st, []string{writeFile(t, "hld.xml", detectionsDoc("2022-02-28T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != want {
		t.Errorf("after a first import the indexes are %q, want %q", got, want)
	}
	if n := count(t, st, "detections WHERE qid = 38170"); n != 1 {
		t.Errorf("%d detections of QID 38170, want 1", n)
	}
	if v, err := st.Meta(ctx, "deferred_indexes"); err != nil || v != "" {
		t.Errorf("the deferred indexes are still recorded after the import: %q, %v", v, err)
	}
}
