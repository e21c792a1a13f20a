package load

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/store"
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

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "qvt.db"))
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
	for _, bad := range []string{"2022-02-31T00:00:00Z", "2022-04-26T04:00:60Z"} {
		st := openStore(t)
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
	st := openStore(t)
	l := &Loader{Policy: assess.DefaultPolicy()}
	if _, err := l.Files(context.Background(), st, []string{writeFile(t, "hld.xml", detectionsDoc("2022-02-28T00:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "detections"); n != 1 {
		t.Errorf("%d detections stored, want 1", n)
	}
}
