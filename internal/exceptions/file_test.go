package exceptions

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func port(p int) *int { return &p }

// sample is three active exceptions, out of id order.
func sample() []Exception {
	at := time.Date(2027, 1, 10, 9, 30, 0, 0, time.UTC)
	return []Exception{
		{ID: 12, Type: RiskAccepted, Scope: Scope{QID: 38794, Tag: "Legacy DMZ"}, Reason: "TLS 1.1 needed by the payment terminal until it is replaced",
			Approver: "ciso@corp.example", RecordedBy: "alice", RecordedAt: at, Start: "2027-01-10", Until: "2027-03-31",
			State: Active, Hosts: []int64{3, 5, 8}, Covered: 14},
		{ID: 3, Type: FalsePositive, Scope: Scope{Key: "10.1.2.3:105936:443", QID: 105936}, Reason: "the banner lies: patched build",
			Approver: "secops@corp.example", RecordedBy: "bob", RecordedAt: at, Start: "2027-01-10",
			State: Active, Hosts: []int64{7}, Covered: 1},
		{ID: 20, Type: CompensatingControl, Scope: Scope{QID: 11, Port: port(8443), CIDR: "10.9.0.0/16", FutureHosts: true},
			Reason: "WAF rule 9001", Approver: "ciso@corp.example", RecordedBy: "carol", RecordedAt: at, Start: "2027-02-01", Until: "2027-12-31",
			State: Active},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// The file lists exceptions by id with their comments, and reads back
// into the same entries: imported unchanged, it changes nothing.
func TestFileRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, sample(), "2027-01-10"); err != nil {
		t.Fatal(err)
	}
	golden(t, "exceptions.yaml", b.Bytes())
	entries, err := Decode(bytes.NewReader(b.Bytes()), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].ID != "EXC-3" || entries[1].ID != "EXC-12" || entries[2].ID != "EXC-20" {
		t.Fatalf("entries %+v", entries)
	}
	changes, err := Diff(sample(), entries, DefaultPolicy(), "2027-01-10", "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Errorf("round trip gives changes: %v", changes)
	}

	// No exception: an empty list that reads back.
	b.Reset()
	if err := Encode(&b, nil, "2027-01-10"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "exceptions: []") {
		t.Errorf("empty file:\n%s", b.String())
	}
	if entries, err := Decode(&b, "x.yaml"); err != nil || len(entries) != 0 {
		t.Errorf("empty file reads as %v, %v", entries, err)
	}
}

// An import's diff: adds, edits of until and reason, revokes of what the
// file lacks; refusals name the file and the entry.
func TestFileDiff(t *testing.T) {
	base := func() []Entry {
		var out []Entry
		for _, e := range sample() {
			out = append(out, EntryOf(e))
		}
		return out // EXC-12, EXC-3, EXC-20 (sample's order)
	}
	for _, c := range []struct {
		name    string
		edit    func([]Entry) []Entry
		want    []string // the diff's lines
		wantErr string
	}{
		{name: "extend and reword", edit: func(es []Entry) []Entry {
			es[0].Until = "2027-06-30"
			es[1].Reason = "patched build 8.9p1"
			return es
		}, want: []string{"~ EXC-12 until 2027-03-31 → 2027-06-30", `~ EXC-3 reason "the banner lies: patched build" → "patched build 8.9p1"`}},
		{name: "add and revoke", edit: func(es []Entry) []Entry {
			return append(es[:2], Entry{Type: "false-positive", Scope: Scope{QID: 42, Host: "db-01"}, Reason: "r", Approver: "a"})
		}, want: []string{"+ add false_positive, QID 42 on host db-01, approved by a", "- revoke EXC-20 (compensating_control, QID 11 port 8443 in 10.9.0.0/16, future hosts included)"}},
		{name: "empty file revokes all", edit: func([]Entry) []Entry { return nil },
			want: []string{"- revoke EXC-3 (false_positive, finding 10.1.2.3:105936:443)", `- revoke EXC-12 (risk_accepted, QID 38794 tagged "Legacy DMZ")`, "- revoke EXC-20 (compensating_control, QID 11 port 8443 in 10.9.0.0/16, future hosts included)"}},
		{name: "scope widened", edit: func(es []Entry) []Entry { es[0].Scope.Tag = ""; return es },
			wantErr: `x.yaml: entry 1 (EXC-12): scope: QID 38794 tagged "Legacy DMZ" → QID 38794 on every host: the scope of an exception never changes`},
		{name: "type changed", edit: func(es []Entry) []Entry { es[1].Type = RiskAccepted; return es },
			wantErr: "x.yaml: entry 2 (EXC-3): type: false_positive → risk_accepted"},
		{name: "approver changed", edit: func(es []Entry) []Entry { es[2].Approver = "me"; return es },
			wantErr: "x.yaml: entry 3 (EXC-20): approver"},
		{name: "unknown id", edit: func(es []Entry) []Entry { es[1].ID = "EXC-99"; return es },
			wantErr: "x.yaml: entry 2 (EXC-99): no active exception EXC-99"},
		{name: "twice", edit: func(es []Entry) []Entry { return append(es, es[0]) },
			wantErr: "x.yaml: entry 4 (EXC-12): EXC-12 is in the file twice"},
		{name: "bad id", edit: func(es []Entry) []Entry { es[0].ID = "twelve"; return es },
			wantErr: `x.yaml: entry 1: id: "twelve" is not an exception id`},
		{name: "too long", edit: func(es []Entry) []Entry { es[0].Until = "2028-06-30"; return es },
			wantErr: "x.yaml: entry 1 (EXC-12): until: 2028-06-30 is 537 days after 2027-01-10; exceptions.max_days allows 365"},
		{name: "expiry removed", edit: func(es []Entry) []Entry { es[0].Until = ""; return es },
			wantErr: "x.yaml: entry 1 (EXC-12): until: the expiry 2027-03-31 cannot be removed"},
		{name: "new without approver", edit: func(es []Entry) []Entry {
			return append(es, Entry{Type: RiskAccepted, Scope: Scope{QID: 1}, Reason: "r", Until: "2027-02-01"})
		}, wantErr: "x.yaml: entry 4: an exception needs an approver"},
	} {
		t.Run(c.name, func(t *testing.T) {
			changes, err := Diff(sample(), c.edit(base()), DefaultPolicy(), "2027-01-10", "x.yaml")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range changes {
				got = append(got, ch.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// A misspelt key is an error naming the file, not a silent default.
func TestFileDecodeErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"exceptions:\n  - type: risk_accepted\n    untill: 2027-03-31\n", `x.yaml: line 3: field untill not found`},
		{"", "x.yaml: empty"},
		{"exceptions: 3\n", "x.yaml: line 1: cannot unmarshal"},
	} {
		_, err := Decode(strings.NewReader(c.text), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

// A file beyond MaxFileBytes is refused by name, without being read whole.
func TestDecodeRefusesAHugeFile(t *testing.T) {
	big := io.MultiReader(strings.NewReader("exceptions:\n"), strings.NewReader(strings.Repeat("# padding\n", MaxFileBytes/10+1)))
	_, err := Decode(big, "huge.yaml")
	if err == nil || !strings.Contains(err.Error(), "huge.yaml: larger than 16 MB") {
		t.Fatalf("Decode = %v", err)
	}
}
