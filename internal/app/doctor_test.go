package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"qvt/internal/gen"
	"qvt/internal/publish/assets"
	"qvt/internal/publish/assets/assetstest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/publish/mysql/mysqltest"
	"qvt/internal/sim"
)

// The secrets of the doctor's tests: none may appear in its output.
const (
	docQualysPW = "qualys-secret-pw"
	docJiraTok  = "jira-secret-token"
	docNVDKey   = "nvd-secret-key"
	docMySQLPW  = "mysql-secret-pw"
)

// withStatuses puts a Jira double behind a proxy that adds what the
// double does not serve: GET /rest/api/{2,3}/project/{key}/statuses, the
// issue types of the project with their workflow's statuses, from the
// double's options. The project's existence and the credentials are the
// double's to judge: the proxy asks it for the project first.
func withStatuses(t *testing.T, j *jiratest.Server) string {
	t.Helper()
	target, _ := url.Parse(j.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	re := regexp.MustCompile(`^/rest/api/(?:2|3)/project/([^/]+)/statuses$`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := re.FindStringSubmatch(r.URL.Path)
		if m == nil {
			proxy.ServeHTTP(w, r)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, j.URL+"/rest/api/2/project/"+m[1], nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			w.WriteHeader(res.StatusCode)
			io.Copy(w, res.Body)
			return
		}
		opt := j.Options()
		var statuses []string
		for s, cat := range opt.Workflow.Categories {
			statuses = append(statuses, fmt.Sprintf(`{"name":%q,"statusCategory":{"key":%q}}`, s, cat))
		}
		slices.Sort(statuses)
		var types []string
		for _, it := range opt.IssueTypes {
			types = append(types, fmt.Sprintf(`{"name":%q,"subtask":false,"statuses":[%s]}`, it, strings.Join(statuses, ",")))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "[%s]", strings.Join(types, ","))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// mariaUser creates a database and a user with the privileges given on
// it, both dropped when the test ends, and returns the user's DSN. It
// skips when MariaDB is not reachable, unless QVT_MYSQL_REQUIRED is set.
func mariaUser(t *testing.T, privileges string) string {
	t.Helper()
	cfg := mysqltest.Server(t)
	admin := mysqltest.Admin(t, cfg)
	name := mysqltest.Name("qvt_doc")
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE `" + name + "`")
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	exec("CREATE USER '" + name + "'@'%' IDENTIFIED BY '" + docMySQLPW + "'")
	t.Cleanup(func() { admin.Exec("DROP USER IF EXISTS '" + name + "'@'%'") })
	exec("GRANT " + privileges + " ON `" + name + "`.* TO '" + name + "'@'%'")
	u := gomysql.NewConfig()
	u.User, u.Passwd, u.Net, u.Addr, u.DBName = name, docMySQLPW, "tcp", cfg.Addr, name
	return u.FormatDSN()
}

// doctorSetup starts the Qualys/NVD double, the Jira and Assets doubles
// (the Assets schema initialised), imports a store (mode 0600) and
// returns the environment of a healthy installation.
func doctorSetup(t *testing.T) (env map[string]string, db string) {
	t.Helper()
	s := sim.New(sim.Config{Data: gen.Config{Seed: 3, QIDs: 50, Hosts: 5, DetectionsPerHost: 3, CVEs: 50}, Password: docQualysPW})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	j := jiratest.New(jiratest.Options{User: "bot@example.com", Token: docJiraTok})
	t.Cleanup(j.Close)
	a := assetstest.New(assetstest.Options{User: "bot@example.com", Token: docJiraTok})
	t.Cleanup(a.Close)
	acfg := assets.Config{URL: a.BaseURL(), Schema: "ITA", User: "bot@example.com", Token: docJiraTok}
	tg, err := assets.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	db = filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	if err := os.Chmod(db, 0o600); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{
		"QUALYS_API_URL": base, "QUALYS_USERNAME": "demo", "QUALYS_PASSWORD": docQualysPW,
		"NVD_API_URL": s.NVDURL(), "KEV_URL": s.KEVURL(), "EPSS_URL": s.EPSSURL(), "NVD_API_KEY": docNVDKey,
		"JIRA_URL": withStatuses(t, j), "JIRA_USER": "bot@example.com", "JIRA_TOKEN": docJiraTok, "JIRA_PROJECT": "SEC",
		"ASSETS_URL": a.BaseURL(), "ASSETS_SCHEMA": "ITA",
		"QVT_DB": db,
	}
	return env, db
}

// doctorRun runs qvt doctor and checks what every run must: no secret in
// any output, the exit code 1 exactly when a line fails.
func doctorRun(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	code, out, errs := qvt(t, env, append(args, "doctor")...)
	for _, secret := range []string{docQualysPW, docJiraTok, docNVDKey, docMySQLPW} {
		if strings.Contains(out+errs, secret) {
			t.Fatalf("qvt doctor printed the secret %q:\n%s\n%s", secret, out, errs)
		}
	}
	failed := regexp.MustCompile(`(?m)^FAIL `).MatchString(out)
	if (code == 1) != failed || (code != 0 && code != 1) {
		t.Fatalf("exit %d with a failed line: %v\n%s\n%s", code, failed, out, errs)
	}
	return code, out
}

// lineOf is the report line of an area that contains text, with its fix.
func lineOf(t *testing.T, out, level, area, text string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == level && f[1] == area && strings.Contains(l, text) {
			if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "fix: ") {
				return l + "\n" + lines[i+1]
			}
			return l
		}
	}
	t.Fatalf("no %s %s line with %q in:\n%s", level, area, text, out)
	return ""
}

func TestDoctor(t *testing.T) {
	env, db := doctorSetup(t)
	dsn := mariaUser(t, "ALL PRIVILEGES")
	with := func(kv ...string) map[string]string {
		e := maps.Clone(env)
		for i := 0; i+1 < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	ls := func() []string {
		entries, _ := os.ReadDir(filepath.Dir(db))
		var names []string
		for _, e := range entries {
			fi, _ := e.Info()
			names = append(names, fmt.Sprintf("%s %v %v", e.Name(), fi.Mode(), fi.ModTime()))
		}
		return names
	}

	t.Run("healthy", func(t *testing.T) {
		cfgFile := filepath.Join(t.TempDir(), "qvt.yaml")
		if err := os.WriteFile(cfgFile, []byte("qualys:\n  username: demo\njira:\n  issue_type: Task\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		e := with("QVT_MYSQL_DSN", dsn, "QVT_CONFIG", cfgFile, "QUALYS_USERNAME", "")
		before := ls()
		code, out := doctorRun(t, e)
		if code != 0 || strings.Contains(out, "\nwarn ") || !strings.Contains(out, " 0 warnings, 0 failed") {
			t.Fatalf("exit %d, want 0 and every line ok:\n%s", code, out)
		}
		if after := ls(); !slices.Equal(before, after) {
			t.Errorf("doctor changed the store's folder:\n%v\n%v", before, after)
		}
		for _, want := range [][3]string{
			{"config", "configuration file " + cfgFile + " (QVT_CONFIG)"},
			{"config", "qualys.username = demo (file)"},
			{"config", "qualys.password = [masked] (environment QUALYS_PASSWORD)"},
			{"config", "nvd.api_key = [masked] (environment NVD_API_KEY)"},
			{"config", "jira.issue_type = Task (file)"},
			{"config", "jira.token = [masked] (environment JIRA_TOKEN)"},
			{"config", "mysql.dsn = qvt_doc_"},
			{"config", "scoring.rating_from = env (default)"},
			{"config", "db = " + db + " (environment QVT_DB)"},
			{"store", "schema "},
			{"store", "mode 0600, its owner's only"},
			{"qualys", "accepts user demo"},
			{"qualys", "rate limit 300 calls per 1h"},
			{"qualys", "concurrency limit 2"},
			{"qualys", "clock agrees with Qualys's"},
			{"nvd", "the API key is accepted"},
			{"mysql", "has every privilege the publisher needs"},
			{"jira", "credentials accepted (bot@example.com)"},
			{"jira", "project SEC, issue type Task: fixed findings close to Done"},
			{"assets", "schema ITA has the object types and attributes qvt writes"},
		} {
			lineOf(t, out, "ok", want[0], want[1])
		}
		if l := lineOf(t, out, "ok", "config", "mysql.dsn"); !strings.Contains(l, ":[masked]@tcp(") {
			t.Errorf("the DSN's password is not masked: %s", l)
		}
	})

	t.Run("bad Qualys credentials", func(t *testing.T) {
		code, out := doctorRun(t, with("QUALYS_PASSWORD", "wrong-password"))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		l := lineOf(t, out, "FAIL", "qualys", "refused user demo's credentials (401)")
		if !strings.Contains(l, "fix: check QUALYS_USERNAME/QUALYS_PASSWORD") {
			t.Errorf("no fix: %s", l)
		}
		if strings.Contains(out, "wrong-password") {
			t.Error("the wrong password is printed")
		}
	})

	t.Run("Qualys unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		code, out := doctorRun(t, with("QUALYS_API_URL", "http://"+addr))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		lineOf(t, out, "FAIL", "qualys", "QUALYS_API_URL http://"+addr+" does not answer")
	})

	t.Run("missing store", func(t *testing.T) {
		nope := filepath.Join(t.TempDir(), "nope.db")
		code, out := doctorRun(t, env, "--db", nope)
		if code != 0 {
			t.Fatalf("exit %d, want 0 (a missing store is a warning):\n%s", code, out)
		}
		l := lineOf(t, out, "warn", "store", "no store at "+nope)
		if !strings.Contains(l, "fix: run qvt sync or qvt import first") {
			t.Errorf("no fix: %s", l)
		}
		lineOf(t, out, "ok", "config", "db = "+nope+" (flag --db)")
		deeper := filepath.Join(filepath.Dir(nope), "srv", "qvt.db")
		code, out = doctorRun(t, env, "--db", deeper)
		l = lineOf(t, out, "warn", "store", "no store at "+deeper+", and no folder "+filepath.Dir(deeper)+" for it")
		if code != 0 || !strings.Contains(l, "fix: mkdir -m 700 "+filepath.Dir(deeper)+", then run qvt sync or qvt import") {
			t.Errorf("exit %d: %s", code, l)
		}
		if _, err := os.Stat(nope); !os.IsNotExist(err) {
			t.Errorf("doctor created %s", nope)
		}
	})

	t.Run("world-readable store", func(t *testing.T) {
		if err := os.Chmod(db, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(db, 0o600)
		code, out := doctorRun(t, env)
		if code != 0 {
			t.Fatalf("exit %d, want 0 (a warning):\n%s", code, out)
		}
		l := lineOf(t, out, "warn", "store", "mode 0644: group and other users can read it")
		if !strings.Contains(l, "fix: chmod 600 "+db) {
			t.Errorf("no fix: %s", l)
		}
	})

	t.Run("MySQL user lacking privileges", func(t *testing.T) {
		weak := mariaUser(t, "SELECT, INSERT, UPDATE, DELETE")
		code, out := doctorRun(t, with("QVT_MYSQL_DSN", weak))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		l := lineOf(t, out, "FAIL", "mysql", "lacks CREATE, ALTER, INDEX and CREATE TEMPORARY TABLES on qvt_doc_")
		if !regexp.MustCompile("fix: as an administrator: GRANT CREATE, ALTER, INDEX, CREATE TEMPORARY TABLES ON `qvt_doc_[0-9a-f_]+`\\.\\* TO 'qvt_doc_[0-9a-f_]+'@'%';").MatchString(l) {
			t.Errorf("fix: %s", l)
		}
	})

	t.Run("Jira project and issue type", func(t *testing.T) {
		code, out := doctorRun(t, with("JIRA_PROJECT", "NOPE"))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		lineOf(t, out, "FAIL", "jira", "no project NOPE visible to bot@example.com")
		cfgFile := filepath.Join(t.TempDir(), "qvt.yaml")
		if err := os.WriteFile(cfgFile, []byte("jira:\n  issue_type: Story\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out = doctorRun(t, env, "--config", cfgFile)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		l := lineOf(t, out, "FAIL", "jira", "project SEC has no issue type Story")
		if !strings.Contains(l, "fix: set jira.issue_type to one of Bug, Task") {
			t.Errorf("fix: %s", l)
		}
	})

	t.Run("Assets schema without qvt's object types", func(t *testing.T) {
		bare := assetstest.New(assetstest.Options{User: "bot@example.com", Token: docJiraTok})
		defer bare.Close()
		before := bare.Snapshot()
		code, out := doctorRun(t, with("ASSETS_URL", bare.BaseURL()))
		if code != 0 {
			t.Fatalf("exit %d, want 0 (a warning):\n%s", code, out)
		}
		l := lineOf(t, out, "warn", "assets", "schema ITA lacks object type Host, object type Vulnerability Finding")
		if !strings.Contains(l, "fix: run qvt publish --to assets --init") {
			t.Errorf("fix: %s", l)
		}
		if bare.Snapshot() != before {
			t.Error("doctor changed the Assets schema")
		}
		code, out = doctorRun(t, with("ASSETS_SCHEMA", "NOPE"))
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		lineOf(t, out, "FAIL", "assets", `no object schema "NOPE"`)
	})

	t.Run("configuration that does not load", func(t *testing.T) {
		cfgFile := filepath.Join(t.TempDir(), "qvt.yaml")
		if err := os.WriteFile(cfgFile, []byte("qualys:\n  pasword: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := doctorRun(t, env, "--config", cfgFile)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		lineOf(t, out, "FAIL", "config", "pasword")
	})
}
