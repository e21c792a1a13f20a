package sim

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/qualys"
)

// TestKEVFeed: qvt's KEV client reads the catalog of the double's epoch,
// which grows as the double advances.
func TestKEVFeed(t *testing.T) {
	s := start(t, Config{})
	if s.KEVURL() != s.BaseURL()+"/kev/known_exploited_vulnerabilities.json" {
		t.Errorf("KEVURL %s", s.KEVURL())
	}
	c := kev.NewClient(kev.ClientConfig{URL: s.KEVURL()})
	got, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := s.Dataset().KEV(0); !reflect.DeepEqual(got, want) {
		t.Errorf("served %d entries (version %s), gen has %d (version %s)", len(got.Entries), got.Version, len(want.Entries), want.Version)
	}
	if len(got.Entries) == 0 {
		t.Fatal("an empty catalog")
	}
	for range 30 {
		s.Advance()
	}
	later, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(later.Entries) <= len(got.Entries) || later.Version <= got.Version {
		t.Errorf("30 epochs on: %d entries, version %s; before %d, %s", len(later.Entries), later.Version, len(got.Entries), got.Version)
	}
	log := s.Log()
	if len(log) != 2 || log[0].API != APIKEV || log[0].Status != http.StatusOK || log[0].Method != http.MethodGet {
		t.Errorf("log %+v", log)
	}
}

// TestEPSSFeed: the EPSS client reads every score gen has for the epoch,
// from a file served compressed as a .csv.gz is.
func TestEPSSFeed(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	var h epss.Header
	got := map[string]epss.Score{}
	err := epss.NewClient(epss.ClientConfig{URL: s.EPSSURL()}).Fetch(context.Background(),
		func(x epss.Header) error { h = x; return nil },
		func(x epss.Score) error { got[x.CVE] = x; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if h != d.EPSSHeader(0) {
		t.Errorf("header %+v", h)
	}
	want := 0
	for i := range d.CVECount(0) {
		sc, p, ok := d.EPSS(i, 0)
		if !ok {
			continue
		}
		want++
		if g := got[d.CVEID(i)]; g.EPSS != sc || g.Percentile != p {
			t.Fatalf("%s: served %+v, gen has %v %v", d.CVEID(i), g, sc, p)
		}
	}
	if len(got) != want {
		t.Errorf("%d rows served, gen scores %d CVEs", len(got), want)
	}
	r := get(t, s.EPSSURL(), func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })
	if r.status != 200 || r.header.Get("Content-Encoding") != "" || r.header.Get("Content-Type") != "application/gzip" || !bytes.HasPrefix(r.body, []byte{0x1f, 0x8b}) {
		t.Errorf("status %d, headers %v: want the .csv.gz bytes as they are", r.status, r.header)
	}
}

// TestFeedFaults: a 503 and a cut body are retried by the clients, and the
// double logs them.
func TestFeedFaults(t *testing.T) {
	for _, f := range []Faults{{P503: 1}, {PCut: 1}} {
		s := start(t, Config{Faults: f})
		// The first attempt meets the fault; the wait before the retry
		// clears it.
		clear := func(context.Context, time.Duration) error { s.SetFaults(Faults{}); return nil }
		if _, err := kev.NewClient(kev.ClientConfig{URL: s.KEVURL(), Sleep: clear}).Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.SetFaults(f)
		rows := 0
		err := epss.NewClient(epss.ClientConfig{URL: s.EPSSURL(), Sleep: clear}).Fetch(context.Background(),
			func(epss.Header) error { rows = 0; return nil }, func(epss.Score) error { rows++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if f.P503 > 0 {
			want = Fault503
		} else {
			want = FaultCut
		}
		var faults []string
		for _, c := range s.Log() {
			faults = append(faults, c.API+":"+c.Fault)
		}
		if got := strings.Join(faults, " "); got != "kev:"+want+" kev: epss:"+want+" epss:" {
			t.Errorf("calls %s", got)
		}
	}
	s := start(t, Config{Faults: Faults{P503: 1}})
	_, err := kev.NewClient(kev.ClientConfig{URL: s.KEVURL(), MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "giving up after 2 attempts") || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("err = %v", err)
	}
}

// TestQDSShownWhenAsked: QDS and its factors appear only with show_qds=1
// and show_qds_factors=1.
func TestQDSShownWhenAsked(t *testing.T) {
	s := start(t, Config{})
	count := func(p ...string) (qds, factors int) {
		r := call(t, s, PathDetections, vals(append([]string{"action", "list"}, p...)...), nil)
		if r.status != 200 {
			t.Fatalf("%v: status %d %s", p, r.status, r.body)
		}
		_, err := qualys.DecodeDetections(bytes.NewReader(r.body), func(h *qualys.Host) error {
			for _, x := range h.Detections {
				if x.QDS != 0 {
					qds++
				}
				if len(x.QDSFactors) > 0 {
					factors++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return qds, factors
	}
	if q, f := count(); q != 0 || f != 0 {
		t.Errorf("unasked: %d QDS, %d with factors", q, f)
	}
	if q, f := count("show_qds", "1"); q == 0 || f != 0 {
		t.Errorf("show_qds=1: %d QDS, %d with factors", q, f)
	}
	if q, f := count("show_qds", "1", "show_qds_factors", "1"); q == 0 || f == 0 {
		t.Errorf("both: %d QDS, %d with factors", q, f)
	}
}

// TestRejectQDS: a subscription without QDS refuses the parameters as
// unknown, whatever their value, and serves the request without them.
func TestRejectQDS(t *testing.T) {
	s := start(t, Config{RejectQDS: true})
	for _, p := range [][]string{{"show_qds", "1"}, {"show_qds_factors", "1"}, {"show_qds", "0", "show_qds_factors", "1"}} {
		r := call(t, s, PathDetections, vals(append([]string{"action", "list"}, p...)...), nil)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%v: status %d", p, r.status)
		}
		e, err := qualys.DecodeSimpleReturn(bytes.NewReader(r.body))
		if err != nil || e == nil || e.Code != 1901 || !strings.HasPrefix(e.Text, "Unrecognized parameter(s): show_qds") {
			t.Errorf("%v: %+v, %v", p, e, err)
		}
	}
	if r := call(t, s, PathDetections, vals("action", "list", "show_results", "0"), nil); r.status != 200 {
		t.Errorf("without QDS: status %d", r.status)
	}
	if r := call(t, s, PathKB, vals("action", "list", "ids", "1-100", "show_qds", "1"), nil); r.status != http.StatusBadRequest {
		t.Errorf("the KB never knew show_qds: status %d", r.status)
	}
}
