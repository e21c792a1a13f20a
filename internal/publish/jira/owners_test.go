package jira

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/publish/publishtest"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// ownerRule is a rule owning hosts by id, routed to a Jira project,
// assignee, component and labels.
func ownerRule(name string, hosts []int64, project, assignee, component string, labels ...string) owners.Rule {
	return owners.Rule{Name: name, HostIDs: hosts,
		Jira: owners.Jira{Project: project, Assignee: assignee, Component: component, Labels: labels}}
}

var (
	setOwners       = publishtest.SetOwners
	except          = publishtest.Except
	applyExceptions = publishtest.ApplyExceptions
)

func commentTexts(is jiratest.Issue) string {
	var s []string
	for _, c := range is.Comments {
		s = append(s, c.Text)
	}
	return strings.Join(s, "\n---\n")
}

// A finding's issue is created in its owner's project with its
// assignee (by account id on Cloud, by name on Data Center), component
// and labels; a finding of an owner without a project goes to
// jira.project, and one of no owner as before.
func TestCreateRoutedToOwner(t *testing.T) { storetest.Each(t, testCreateRoutedToOwner) }

func testCreateRoutedToOwner(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	for _, flavor := range []string{"cloud", "datacenter"} {
		t.Run(flavor, func(t *testing.T) {
			srv := jiratest.New(jiratest.Options{Flavor: flavor, Projects: []string{"SEC", "PAY"},
				Components: map[string][]string{"PAY": {"Terminals"}, "SEC": {"Databases"}}})
			defer srv.Close()
			st := newStore(t, be)
			atlassiantest.Import(t, st, scanA())
			set := owners.Set{
				ownerRule("Payments platform", []int64{42}, "PAY", "acc-pay", "Terminals", "team pay"),
				ownerRule("DBA", []int64{43}, "", "dba-lead", "Databases"),
			}
			setOwners(t, st, set)
			tg, _ := newTarget(t, srv, func(c *Config) { c.Owners = set })
			if rep := mustRun(t, tg, st); rep.Created != 6 || rep.Failed != 0 {
				t.Fatalf("first publish: %s %v", counts(rep), rep.Notes)
			}
			for _, c := range []struct {
				key, project, assignee, component, label string
			}{
				{"10.0.0.1:1001:443", "PAY", "acc-pay", "Terminals", "team_pay"},
				{"10.0.0.1:105936:0", "PAY", "acc-pay", "Terminals", "team_pay"},
				{"10.0.0.2:1002:0", "SEC", "dba-lead", "Databases", ""},
			} {
				is := issueOf(t, srv, c.key)
				if is.Project != c.project || is.Assignee != c.assignee || !slices.Equal(is.Components, []string{c.component}) {
					t.Errorf("%s: %s in %s, assignee %q, components %v; want %s, %q, [%s]",
						c.key, is.Key, is.Project, is.Assignee, is.Components, c.project, c.assignee, c.component)
				}
				if !strings.Contains(is.DescriptionText(), "Owner") {
					t.Errorf("%s: the description does not name the owner", c.key)
				}
				if c.label != "" && !slices.Contains(is.Labels, c.label) {
					t.Errorf("%s: labels %v lack the owner's %q", c.key, is.Labels, c.label)
				}
			}
			// Nothing changed: nothing is sent again.
			if rep := mustRun(t, tg, st); rep.Created+rep.Updated+rep.Closed != 0 {
				t.Errorf("second publish: %s", counts(rep))
			}
		})
	}
}

// A change of owner within one project edits the issue in place: the new
// assignee and component (the old one taken off) and the new owner's
// labels, no new issue. An assignee set by a person survives updates
// that are not a change of owner.
func TestOwnerChangeEditsInPlace(t *testing.T) { storetest.Each(t, testOwnerChangeEditsInPlace) }

func testOwnerChangeEditsInPlace(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	web := owners.Set{ownerRule("Web", []int64{42}, "", "acc-web", "Web", "team-web")}
	setOwners(t, st, web)
	tg, _ := newTarget(t, srv, func(c *Config) { c.Owners = web })
	mustRun(t, tg, st)
	const key = "10.0.0.1:1001:443"
	before := issueOf(t, srv, key)
	if before.Assignee != "acc-web" || !slices.Equal(before.Components, []string{"Web"}) {
		t.Fatalf("created: assignee %q, components %v", before.Assignee, before.Components)
	}

	t.Setenv(clock.Env, "2026-01-11T00:00:00Z")
	// Web leaves the rules: the component its route set is taken off
	// all the same.
	dba := owners.Set{ownerRule("DBA", []int64{42}, "SEC", "acc-dba", "Databases", "team-dba")}
	setOwners(t, st, dba)
	tg, _ = newTarget(t, srv, func(c *Config) { c.Owners = dba })
	rep := mustRun(t, tg, st)
	if rep.Created != 0 || rep.Updated != 4 || rep.Failed != 0 {
		t.Fatalf("owner change: %s %v; want the host's 4 open issues updated, none created", counts(rep), rep.Notes)
	}
	is := issueOf(t, srv, key)
	if is.Key != before.Key || is.Assignee != "acc-dba" || !slices.Equal(is.Components, []string{"Databases"}) {
		t.Errorf("after the owner change: %s, assignee %q, components %v; want %s, acc-dba, [Databases]", is.Key, is.Assignee, is.Components, before.Key)
	}
	if !slices.Contains(is.Labels, "team-dba") || slices.Contains(is.Labels, OwnerChangedLabel) {
		t.Errorf("labels %v: want team-dba and not %s", is.Labels, OwnerChangedLabel)
	}
	if !strings.Contains(commentTexts(is), "owner Web → DBA") {
		t.Errorf("no comment on the owner change: %q", commentTexts(is))
	}

	// A person assigns an issue; a later change of its content (its
	// finding becomes P1: its CVE is added to KEV) does not take it back.
	const kevKey = "10.0.0.1:105936:0"
	srv.SetAssignee(issueOf(t, srv, kevKey).Key, "someone-else")
	publishtest.Prioritize(t, st, 1_768_200_000, []store.KEVEntry{publishtest.KEV("CVE-2020-15778", "2026-01-11", false)}, nil)
	if rep := mustRun(t, tg, st); rep.Updated == 0 {
		t.Fatalf("the priority change updated nothing: %s", counts(rep))
	}
	if got := issueOf(t, srv, kevKey); got.Assignee != "someone-else" || !strings.Contains(got.DescriptionText(), "known exploited") {
		t.Errorf("after an update that is no change of owner: assignee %q (want someone-else), description:\n%s", got.Assignee, got.DescriptionText())
	}
}

// A change of owner to one with another project: with
// move_between_projects off the issue stays, with a comment naming the
// new owner and project and the label qvt-owner-changed; with it on, a
// new issue in the new project, linked to the old one, which is closed
// with a comment naming the new.
func TestOwnerChangeAcrossProjects(t *testing.T) {
	storetest.Each(t, testOwnerChangeAcrossProjects)
}

func testOwnerChangeAcrossProjects(t *testing.T, be storetest.Backend) {
	for _, move := range []bool{false, true} {
		t.Run(map[bool]string{false: "stay", true: "move"}[move], func(t *testing.T) {
			t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
			srv := jiratest.New(jiratest.Options{Projects: []string{"SEC", "PAY"}})
			defer srv.Close()
			st := newStore(t, be)
			atlassiantest.Import(t, st, scanA())
			web := owners.Set{ownerRule("Web", []int64{42}, "", "acc-web", "Web")}
			setOwners(t, st, web)
			tg, _ := newTarget(t, srv, func(c *Config) { c.Owners = web })
			mustRun(t, tg, st)
			const key = "10.0.0.1:1001:443"
			old := issueOf(t, srv, key)

			t.Setenv(clock.Env, "2026-01-11T00:00:00Z")
			pay := owners.Set{ownerRule("Payments platform", []int64{42}, "PAY", "acc-pay", "Terminals")}
			setOwners(t, st, pay)
			tg, _ = newTarget(t, srv, func(c *Config) { c.Owners = pay; c.MoveBetweenProjects = move })
			rep := mustRun(t, tg, st)
			if rep.Failed != 0 {
				t.Fatalf("owner change: %s %v", counts(rep), rep.Notes)
			}
			now := issueOf(t, srv, key)
			stale, _ := srv.Issue(old.Key)
			if !move {
				if rep.Created != 0 || now.Key != old.Key || now.Project != "SEC" {
					t.Fatalf("moved although move_between_projects is off: %s, issue %s (%s)", counts(rep), now.Key, now.Project)
				}
				if !slices.Contains(now.Labels, OwnerChangedLabel) {
					t.Errorf("labels %v lack %s", now.Labels, OwnerChangedLabel)
				}
				if c := commentTexts(now); !strings.Contains(c, "Owner changed from Web to Payments platform (project PAY)") {
					t.Errorf("comment %q does not name the new owner and project", c)
				}
				if now.Assignee != "acc-web" || !slices.Equal(now.Components, []string{"Web"}) {
					t.Errorf("another project's assignee or component was set: %q %v", now.Assignee, now.Components)
				}
				return
			}
			if rep.Created != 4 || now.Key == old.Key || now.Project != "PAY" || now.Assignee != "acc-pay" {
				t.Fatalf("move: %s, issue %s in %s assigned to %q; want 4 created in PAY", counts(rep), now.Key, now.Project, now.Assignee)
			}
			if len(now.Links) != 1 || now.Links[0].Outward != old.Key {
				t.Errorf("the new issue's links %+v do not point to %s", now.Links, old.Key)
			}
			if stale.Status != "Done" || slices.Contains(stale.Labels, DedupeLabel(key)) || !slices.Contains(stale.Labels, MovedLabel) {
				t.Errorf("the old issue: status %s, labels %v; want Done, without its dedupe label, with %s", stale.Status, stale.Labels, MovedLabel)
			}
			if c := commentTexts(stale); !strings.Contains(c, "moved to "+now.Key) {
				t.Errorf("the old issue's comments %q do not name %s", c, now.Key)
			}
			if m := mappings(t, st)[key]; m.Remote != now.Key || m.State != StateOpen {
				t.Errorf("mapping after the move: %+v", m)
			}
			// Settled: the next run does nothing.
			if rep := mustRun(t, tg, st); rep.Created+rep.Updated+rep.Closed+rep.Reopened != 0 {
				t.Errorf("after the move: %s %v", counts(rep), rep.Notes)
			}
		})
	}
}

// Grouped by QID or host, an issue groups the findings of one owner: a
// QID on two hosts of two owners is two issues, each in its owner's
// project; when a host changes owner, its findings leave the old group's
// issue (closed when it has none left) for the new owner's.
func TestGroupsWithinOwner(t *testing.T) { storetest.Each(t, testGroupsWithinOwner) }

func testGroupsWithinOwner(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	srv := jiratest.New(jiratest.Options{Projects: []string{"SEC", "PAY"}})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	set := owners.Set{
		ownerRule("Payments platform", []int64{42}, "PAY", "acc-pay", ""),
		ownerRule("DBA", []int64{43}, "", "", ""),
	}
	setOwners(t, st, set)
	tg, _ := newTarget(t, srv, func(c *Config) { c.Owners = set; c.Grouping = ByQID })
	mustRun(t, tg, st)
	pay, dba := srv.WithLabel(DedupeLabel("qid:1001@Payments platform")), srv.WithLabel(DedupeLabel("qid:1001@DBA"))
	if len(pay) != 1 || len(dba) != 1 || pay[0].Project != "PAY" || dba[0].Project != "SEC" {
		t.Fatalf("QID 1001: Payments %d issue(s), DBA %d; want one each, in PAY and SEC", len(pay), len(dba))
	}
	if d := dba[0].DescriptionText(); strings.Contains(d, "10.0.0.1") || !strings.Contains(d, "10.0.0.2") {
		t.Errorf("the DBA issue lists another owner's host:\n%s", d)
	}

	// Host 43 goes to Payments: its findings join Payments' issues; the
	// DBA issues have none left and close.
	t.Setenv(clock.Env, "2026-01-11T00:00:00Z")
	set2 := owners.Set{ownerRule("Payments platform", []int64{42, 43}, "PAY", "acc-pay", "")}
	setOwners(t, st, set2)
	tg, _ = newTarget(t, srv, func(c *Config) { c.Owners = set2; c.Grouping = ByQID })
	rep := mustRun(t, tg, st)
	if rep.Failed != 0 {
		t.Fatalf("%s %v", counts(rep), rep.Notes)
	}
	for _, is := range srv.WithLabel(DedupeLabel("qid:1001@DBA")) {
		if is.Status != "Done" || !strings.Contains(commentTexts(is), "went to another owner") {
			t.Errorf("the DBA issue %s of QID 1001 is %s, comments %q; want Done, saying why", is.Key, is.Status, commentTexts(is))
		}
	}
	if is := srv.WithLabel(DedupeLabel("qid:1001@Payments platform")); len(is) != 1 || !strings.Contains(is[0].DescriptionText(), "10.0.0.2") {
		t.Errorf("the Payments issue of QID 1001 does not list host 43")
	}
}

// An excepted finding's issue is resolved with exceptions.resolution and
// a comment naming the exception; when the exception expires (QVT_NOW
// past its date, then the store's expiry) the issue is reopened with a
// comment; a revoked one likewise. A finding Qualys reports Fixed closes
// as before, excepted or not.
func TestExceptionsResolveAndReopen(t *testing.T) {
	storetest.Each(t, testExceptionsResolveAndReopen)
}

func testExceptionsResolveAndReopen(t *testing.T, be storetest.Backend) {
	for _, c := range []struct {
		name, resolution, want string
	}{
		{"won't do", "Won't Do", "Won't Do"},
		{"no resolution configured", "", "Done"}, // the double's post function
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
			srv := jiratest.New(jiratest.Options{})
			defer srv.Close()
			st := newStore(t, be)
			atlassiantest.Import(t, st, scanA())
			tg, _ := newTarget(t, srv, func(c2 *Config) { c2.ExceptionResolution = c.resolution })
			mustRun(t, tg, st)
			const key, fixedLater = "10.0.0.1:1001:443", "10.0.0.1:1002:0"
			name := except(t, st, key, exceptions.RiskAccepted, "2026-03-31")
			except(t, st, fixedLater, exceptions.FalsePositive, "")
			rep := mustRun(t, tg, st)
			if rep.Closed != 2 || rep.Failed != 0 {
				t.Fatalf("after the exceptions: %s %v; want 2 resolved", counts(rep), rep.Notes)
			}
			is := issueOf(t, srv, key)
			if is.Status != "Done" || is.Resolution != c.want {
				t.Errorf("excepted issue: status %s, resolution %q; want Done, %q", is.Status, is.Resolution, c.want)
			}
			want := "Excepted by " + name + " (risk_accepted, approved by ciso@corp.example) until 2026-03-31: TLS 1.1 needed by the payment terminal until it is replaced"
			if !strings.Contains(commentTexts(is), want) {
				t.Errorf("comments %q lack %q", commentTexts(is), want)
			}
			if m := mappings(t, st)[key]; m.State != StateExcepted {
				t.Errorf("mapping state %q, want %q", m.State, StateExcepted)
			}
			if rep := mustRun(t, tg, st); rep.Closed+rep.Reopened+rep.Updated+rep.Created != 0 {
				t.Errorf("a second run changed something: %s", counts(rep))
			}

			// Qualys reports 1002 Fixed while it is excepted: it closes as
			// before.
			atlassiantest.Import(t, st, scanB())
			mustRun(t, tg, st)
			if m := mappings(t, st)[fixedLater]; m.State != StateClosed {
				t.Errorf("the excepted finding fixed by Qualys: mapping %q, want %q", m.State, StateClosed)
			}
			if !strings.Contains(commentTexts(issueOf(t, srv, fixedLater)), "Qualys reports the detection Fixed") {
				t.Errorf("no fixed comment on the excepted finding's issue: %q", commentTexts(issueOf(t, srv, fixedLater)))
			}

			// Past its last day: the store expires it, the issue reopens.
			t.Setenv(clock.Env, "2026-04-01T08:00:00Z")
			if res := applyExceptions(t, st); len(res.Expired) == 0 {
				t.Fatalf("nothing expired: %+v", res)
			}
			rep = mustRun(t, tg, st)
			is = issueOf(t, srv, key)
			if rep.Reopened != 1 || is.Status != "To Do" || is.Resolution != "" {
				t.Fatalf("after the expiry: %s; issue %s, resolution %q", counts(rep), is.Status, is.Resolution)
			}
			if want := name + " expired: the finding is back"; !strings.Contains(commentTexts(is), want) {
				t.Errorf("comments %q lack %q", commentTexts(is), want)
			}
			if m := mappings(t, st)[key]; m.State != StateOpen {
				t.Errorf("mapping state %q after the expiry", m.State)
			}
		})
	}
}

// A revoked exception reopens the issue with a comment saying so.
func TestExceptionRevokedReopens(t *testing.T) { storetest.Each(t, testExceptionRevokedReopens) }

func testExceptionRevokedReopens(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	srv := jiratest.New(jiratest.Options{Flavor: "datacenter"})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.ExceptionResolution = "Won't Do" })
	mustRun(t, tg, st)
	const key = "10.0.0.2:1001:443"
	name := except(t, st, key, exceptions.CompensatingControl, "2026-06-30")
	mustRun(t, tg, st)
	if is := issueOf(t, srv, key); is.Resolution != "Won't Do" {
		t.Fatalf("excepted issue: %s, %q", is.Status, is.Resolution)
	}
	id, _ := exceptions.ParseName(name)
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.RevokeException(id, "bob@corp.example", "the control was removed", time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, tg, st)
	is := issueOf(t, srv, key)
	if is.Status != "To Do" || !strings.Contains(commentTexts(is), name+" was revoked: the finding is back") {
		t.Errorf("after the revoke: %s, comments %q", is.Status, commentTexts(is))
	}
}

// A grouped issue is resolved only when all its open findings are
// excepted.
func TestGroupResolvedWhenAllExcepted(t *testing.T) {
	storetest.Each(t, testGroupResolvedWhenAllExcepted)
}

func testGroupResolvedWhenAllExcepted(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.Grouping = ByQID; c.ExceptionResolution = "Won't Do" })
	mustRun(t, tg, st)
	group := DedupeLabel("qid:1001")
	one := except(t, st, "10.0.0.1:1001:443", exceptions.RiskAccepted, "2026-03-31")
	mustRun(t, tg, st)
	if is := srv.WithLabel(group)[0]; is.Status == "Done" {
		t.Fatalf("QID 1001's issue was resolved with one of its two findings excepted")
	}
	two := except(t, st, "10.0.0.2:1001:443", exceptions.FalsePositive, "")
	mustRun(t, tg, st)
	is := srv.WithLabel(group)[0]
	if is.Status != "Done" || is.Resolution != "Won't Do" {
		t.Fatalf("QID 1001's issue with all findings excepted: %s, %q", is.Status, is.Resolution)
	}
	if c := commentTexts(is); !strings.Contains(c, one) || !strings.Contains(c, two) {
		t.Errorf("the resolving comment does not name %s and %s: %q", one, two, c)
	}

	// One of them is revoked: the group's issue reopens.
	id, _ := exceptions.ParseName(two)
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.RevokeException(id, "bob@corp.example", "not a false positive after all", clock.Now()); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, tg, st)
	is = srv.WithLabel(group)[0]
	if is.Status != "To Do" || is.Resolution != "" || !strings.Contains(commentTexts(is), "not every one of its 2 open findings is excepted") {
		t.Errorf("after a revoke: %s, %q, comments %q", is.Status, is.Resolution, commentTexts(is))
	}
}

// An exception extended while its finding's issue is resolved: the issue
// stays resolved and gets a comment with the new last day.
func TestExceptionExtendedComments(t *testing.T) { storetest.Each(t, testExceptionExtendedComments) }

func testExceptionExtendedComments(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.ExceptionResolution = "Won't Do" })
	mustRun(t, tg, st)
	const key = "10.0.0.2:1002:0"
	name := except(t, st, key, exceptions.RiskAccepted, "2026-03-31")
	mustRun(t, tg, st)
	id, _ := exceptions.ParseName(name)
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.EditException(id, "2026-06-30", "", "bob@corp.example", clock.Now()); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := mustRun(t, tg, st)
	is := issueOf(t, srv, key)
	if rep.Reopened != 0 || is.Status != "Done" || is.Resolution != "Won't Do" {
		t.Errorf("after the extension: %s, issue %s (%q)", counts(rep), is.Status, is.Resolution)
	}
	if c := commentTexts(is); !strings.Contains(c, "until 2026-06-30") {
		t.Errorf("no comment with the new last day: %q", c)
	}
}
