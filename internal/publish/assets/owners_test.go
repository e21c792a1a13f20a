package assets

import (
	"strconv"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/publish/assets/assetstest"
	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/publishtest"
	"qvt/internal/store/storetest"
)

// --init adds the Owner, Excepted, Exception and Excepted Until
// attributes with their kinds; finding objects carry their owner and
// exception and follow them; a host's Overdue leaves excepted findings
// out.
func TestOwnerAndExceptionAttributes(t *testing.T) {
	storetest.Each(t, testOwnerAndExceptionAttributes)
}

func testOwnerAndExceptionAttributes(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-17T09:00:00Z")
	jan17 := time.Date(2026, 1, 17, 9, 0, 0, 0, time.UTC)
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, _ := newTarget(t, srv, nil)
	initSchema(t, tg)
	kinds := map[string]int{}
	for _, a := range srv.Types()["Vulnerability Finding"].Attrs {
		kinds[a.Name] = a.DefaultType
	}
	for name, kind := range map[string]int{
		"Owner": assetstest.Text, "Excepted": assetstest.Boolean, "Exception": assetstest.Text, "Excepted Until": assetstest.Date,
	} {
		if k, ok := kinds[name]; !ok || k != kind {
			t.Errorf("attribute %s: kind %d (there: %v), want %d", name, k, ok, kind)
		}
	}

	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	publishtest.SetOwners(t, st, owners.Set{
		{Name: "Payments platform", HostIDs: []int64{42}},
		{Name: "Ops", Default: true},
	})
	if rep, _, err := publishRun(t, tg, st, false, jan17); err != nil || rep.Failed != 0 {
		t.Fatalf("publish: %v %s", err, rep)
	}
	objs := srv.Objects("Vulnerability Finding")
	const key = "10.0.0.1:1001:443" // Critical, past its deadline on 2026-01-17
	if o := objs[key]; value(o, "Owner") != "Payments platform" || value(o, "Excepted") != "false" || value(o, "Exception") != "" {
		t.Errorf("%s: %v", key, o.Values)
	}
	if o := objs["10.0.0.2:1002:0"]; value(o, "Owner") != "Ops" {
		t.Errorf("host 43's finding: owner %q, want Ops", value(o, "Owner"))
	}
	overdue := value(srv.Objects("Host")["10.0.0.1"], "Overdue")
	if overdue == "0" || overdue == "" {
		t.Fatalf("host 42 has no overdue finding to except (Overdue %q)", overdue)
	}

	name := publishtest.Except(t, st, key, exceptions.RiskAccepted, "2026-03-31")
	if rep, _, err := publishRun(t, tg, st, false, jan17); err != nil || rep.Failed != 0 || rep.Created != 0 {
		t.Fatalf("publish after the exception: %v %s", err, rep)
	}
	o := srv.Objects("Vulnerability Finding")[key]
	for attr, want := range map[string]string{"Excepted": "true", "Exception": name, "Excepted Until": "2026-03-31", "Owner": "Payments platform"} {
		if got := value(o, attr); got != want {
			t.Errorf("%s after the exception: %s = %q, want %q", key, attr, got, want)
		}
	}
	if got := value(srv.Objects("Host")["10.0.0.1"], "Overdue"); got != itoa(atoi(overdue)-1) {
		t.Errorf("host 42 overdue %s with its overdue finding excepted, want one less than %s", got, overdue)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
