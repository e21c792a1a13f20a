package app

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"qvt/internal/web"
)

// The Dockerfile, the compose file and the systemd units start qvt with
// command lines of their own; these tests hold them to the facts a user
// relies on, so that a renamed command or flag fails here rather than in
// a container or unit that will not start.

// repoFile reads a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// qvtArgsProblem runs args (without the program) through qvt's own
// command parser, as "qvt args..." would: "" when the command exists and
// takes these flags, their values and its positional arguments.
func qvtArgsProblem(args []string) string {
	root := (&env{getenv: func(string) string { return "" }}).rootCommand()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err.Error()
	}
	if cmd == root {
		return "no qvt command in " + strings.Join(args, " ")
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return "qvt " + cmd.Name() + ": " + err.Error()
	}
	if cmd.Args != nil {
		if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
			return err.Error()
		}
	}
	return ""
}

// checkQvtArgs fails a subtest of t when args are not a qvt command line.
func checkQvtArgs(t *testing.T, where string, args []string) {
	t.Helper()
	t.Run(where, func(t *testing.T) {
		if p := qvtArgsProblem(args); p != "" {
			t.Errorf("%s: %q is not a qvt command line: %s", where, args, p)
		}
	})
}

func TestQvtArgsProblem(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"run", "--wait"}, true},
		{[]string{"serve", "--addr", "0.0.0.0:8080"}, true},
		{[]string{"healthcheck", "--timeout", "3s"}, true},
		{[]string{"--db", "/data/qvt.db", "sync", "--full"}, true},
		{[]string{"healthcheck", "--timeout", "soon"}, false},
		{[]string{"run", "--no-such-flag"}, false},
		{[]string{"serve", "extra"}, false},
		{[]string{"nosuchcommand"}, false},
		{[]string{}, false},
	}
	for _, c := range cases {
		if p := qvtArgsProblem(c.args); (p == "") != c.ok {
			t.Errorf("qvtArgsProblem(%q) = %q, want ok=%v", c.args, p, c.ok)
		}
	}
}

// dockerfile is the final stage of a Dockerfile, its instructions by
// name (each with its arguments, continuation lines joined), and every
// RUN of any stage.
type dockerfile struct {
	from string
	ins  map[string][]string
	runs []string
}

func parseDockerfile(text string) dockerfile {
	var d dockerfile
	joined := strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args, _ := strings.Cut(line, " ")
		name = strings.ToUpper(name)
		args = strings.TrimSpace(args)
		switch name {
		case "FROM":
			d.from, _, _ = strings.Cut(args, " ")
			d.ins = map[string][]string{}
		case "RUN":
			d.runs = append(d.runs, args)
		}
		if d.ins != nil {
			d.ins[name] = append(d.ins[name], args)
		}
	}
	return d
}

// execForm reads a JSON-array instruction argument (["a", "b"]).
func execForm(t *testing.T, what, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil || len(v) == 0 {
		t.Fatalf("Dockerfile %s %s: want the exec form, a JSON array: %v", what, s, err)
	}
	return v
}

// envOf reads ENV instructions (KEY=value pairs) into a map.
func envOf(ins []string) map[string]string {
	m := map[string]string{}
	for _, s := range ins {
		for _, kv := range strings.Fields(s) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(repoFile(t, "Dockerfile"))
	if !strings.HasPrefix(d.from, "gcr.io/distroless/static") && d.from != "scratch" {
		t.Errorf("the image is based on %s, want distroless static or scratch (a static binary needs nothing more)", d.from)
	}
	// The binary is built as CI builds it.
	if !slices.ContainsFunc(d.runs, func(r string) bool { return strings.Contains(r, "deploy/build.sh") }) {
		t.Errorf("no RUN of deploy/build.sh: the image's binary is not the one CI checks (RUNs: %q)", d.runs)
	}
	last := func(name string) string {
		v := d.ins[name]
		if len(v) == 0 {
			t.Fatalf("the final stage has no %s", name)
		}
		return v[len(v)-1]
	}
	user, _, _ := strings.Cut(last("USER"), ":")
	if user == "" || user == "0" || user == "root" {
		t.Errorf("USER %s: the container runs as root", last("USER"))
	}
	vol := last("VOLUME")
	var vols []string
	if strings.HasPrefix(vol, "[") {
		vols = execForm(t, "VOLUME", vol)
	} else {
		vols = strings.Fields(vol)
	}
	if !slices.Contains(vols, "/data") {
		t.Errorf("VOLUME %s: want /data", vol)
	}
	env := envOf(d.ins["ENV"])
	if db := env["QVT_DB"]; path.Dir(db) != "/data" {
		t.Errorf("ENV QVT_DB=%q: the store is not in the volume /data", db)
	}
	entry := execForm(t, "ENTRYPOINT", last("ENTRYPOINT"))
	if len(entry) != 1 {
		t.Fatalf("ENTRYPOINT %q: want the qvt binary alone", entry)
	}
	if !slices.ContainsFunc(d.ins["COPY"], func(c string) bool {
		f := strings.Fields(c)
		return len(f) >= 2 && f[len(f)-1] == entry[0] && strings.HasPrefix(f[0], "--from=")
	}) {
		t.Errorf("ENTRYPOINT %s: no COPY --from=... puts the built binary there", entry[0])
	}
	checkQvtArgs(t, "Dockerfile CMD", execForm(t, "CMD", last("CMD")))

	hc := last("HEALTHCHECK")
	_, cmd, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: no CMD", hc)
	}
	probe := execForm(t, "HEALTHCHECK CMD", strings.TrimSpace(cmd))
	if probe[0] != entry[0] {
		t.Errorf("HEALTHCHECK runs %s, not the image's qvt %s", probe[0], entry[0])
	}
	if len(probe) < 2 || probe[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK %q does not run qvt healthcheck", probe)
	}
	checkQvtArgs(t, "Dockerfile HEALTHCHECK", probe[1:])
	// The address the probe derives is where the dashboard listens.
	if u, err := healthURL(web.Config{Addr: env["QVT_WEB_ADDR"]}); err != nil || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("ENV QVT_WEB_ADDR=%q: qvt healthcheck would ask %q (%v)", env["QVT_WEB_ADDR"], u, err)
	}
}

// unit is a systemd unit file: section -> key -> values, in order.
type unit map[string]map[string][]string

func parseUnit(text string) unit {
	u := unit{}
	sec := ""
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			sec = strings.Trim(line, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, _ := strings.Cut(line, "=")
			u[sec][strings.TrimSpace(k)] = append(u[sec][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

func (u unit) get(sec, key string) string {
	v := u[sec][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// systemdWords splits a command line as systemd does for the cases the
// units use: words separated by spaces, double quotes group.
func systemdWords(s string) []string {
	var words []string
	for _, m := range regexp.MustCompile(`"([^"]*)"|(\S+)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			words = append(words, m[2])
		} else {
			words = append(words, m[1])
		}
	}
	return words
}

func TestSystemdUnits(t *testing.T) {
	services, _ := filepath.Glob("../../deploy/systemd/*.service")
	timers, _ := filepath.Glob("../../deploy/systemd/*.timer")
	if len(services) < 2 || len(timers) < 1 {
		t.Fatalf("deploy/systemd has %d services and %d timers, want qvt.service, qvt-run.service and qvt-run.timer", len(services), len(timers))
	}
	units := map[string]unit{}
	for _, p := range append(services, timers...) {
		units[filepath.Base(p)] = parseUnit(repoFile(t, "deploy/systemd/"+filepath.Base(p)))
	}
	for _, p := range services {
		name := filepath.Base(p)
		u := units[name]
		t.Run(name, func(t *testing.T) {
			for key, want := range map[string]string{"ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": ""} {
				if v, ok := u["Service"][key]; !ok || v[len(v)-1] != want {
					t.Errorf("%s=%q, want %q", key, v, want)
				}
			}
			if u.get("Service", "User") == "root" || (u.get("Service", "User") == "" && u.get("Service", "DynamicUser") != "yes") {
				t.Errorf("the service runs as root")
			}
			if !strings.HasSuffix(u.get("Service", "EnvironmentFile"), "/etc/qvt/qvt.env") {
				t.Errorf("EnvironmentFile=%q: the secrets' file is not /etc/qvt/qvt.env", u.get("Service", "EnvironmentFile"))
			}
			// The store must be in a folder the sandbox lets it write.
			var db string
			for _, e := range u["Service"]["Environment"] {
				for _, kv := range systemdWords(e) {
					if v, ok := strings.CutPrefix(kv, "QVT_DB="); ok {
						db = v
					}
				}
			}
			writable := slices.Clone(u["Service"]["ReadWritePaths"])
			for _, d := range strings.Fields(u.get("Service", "StateDirectory")) {
				writable = append(writable, "/var/lib/"+d)
			}
			if db == "" || !slices.Contains(writable, path.Dir(db)) {
				t.Errorf("QVT_DB=%q is not in a writable folder (%q) under ProtectSystem=strict", db, writable)
			}
			words := systemdWords(u.get("Service", "ExecStart"))
			if len(words) < 2 || words[0] != "/usr/local/bin/qvt" {
				t.Fatalf("ExecStart=%q: want /usr/local/bin/qvt and a command", u.get("Service", "ExecStart"))
			}
			checkQvtArgs(t, name+" ExecStart", words[1:])
		})
	}
	for _, p := range timers {
		name := filepath.Base(p)
		u := units[name]
		target := u.get("Timer", "Unit")
		if target == "" {
			target = strings.TrimSuffix(name, ".timer") + ".service"
		}
		s, ok := units[target]
		if !ok {
			t.Errorf("%s starts %s, which deploy/systemd does not hold", name, target)
			continue
		}
		if s.get("Service", "Type") != "oneshot" {
			t.Errorf("%s starts %s of Type=%q: want oneshot, so that the timer waits for a run to end", name, target, s.get("Service", "Type"))
		}
		if u.get("Timer", "OnCalendar") == "" || u.get("Timer", "Persistent") != "true" {
			t.Errorf("%s: OnCalendar=%q Persistent=%q: want a calendar and a missed run made up at boot", name, u.get("Timer", "OnCalendar"), u.get("Timer", "Persistent"))
		}
	}
}

// composeFile is what the compose file's checks read of it.
type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]any `yaml:"depends_on"`
	} `yaml:"services"`
}

func TestCompose(t *testing.T) {
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(repoFile(t, "deploy/compose.yaml")))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	q, ok := c.Services["qvt"]
	if !ok {
		t.Fatalf("deploy/compose.yaml has no qvt service (services: %v)", c.Services)
	}
	// The build context is relative to the compose file's folder.
	ctx := filepath.Join("../../deploy", q.Build.Context)
	df := q.Build.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(ctx, df)); err != nil {
		t.Errorf("qvt's build (context %q, dockerfile %q) finds no Dockerfile: %v", q.Build.Context, df, err)
	}
	if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
		t.Errorf("qvt's build context %q is not the repository: %v", q.Build.Context, err)
	}
	checkQvtArgs(t, "compose qvt command", q.Command)
	if hc := q.Healthcheck.Test; len(hc) < 3 || hc[0] != "CMD" || hc[2] != "healthcheck" {
		t.Errorf("compose qvt healthcheck %q: want [CMD, qvt, healthcheck]", hc)
	} else {
		checkQvtArgs(t, "compose qvt healthcheck", hc[2:])
	}
	// Each database qvt is pointed at is a service of the file, of the
	// right kind, that qvt waits for.
	unset := regexp.MustCompile(`\$\{[^}]*\}`)
	refs := []struct{ env, pattern, image string }{
		{"QVT_DB", `^postgres://[^@]*@([^:/]+)`, "postgres"},
		{"QVT_MYSQL_DSN", `@tcp\(([^:)]+)`, "mariadb"},
	}
	for _, r := range refs {
		v := unset.ReplaceAllString(q.Environment[r.env], "secret")
		m := regexp.MustCompile(r.pattern).FindStringSubmatch(v)
		if m == nil {
			t.Errorf("qvt's %s=%q does not match %s", r.env, q.Environment[r.env], r.pattern)
			continue
		}
		s, ok := c.Services[m[1]]
		if !ok || !strings.HasPrefix(s.Image, r.image) {
			t.Errorf("qvt's %s names the host %q: no %s service of that name", r.env, m[1], r.image)
		}
		if _, ok := q.DependsOn[m[1]]; !ok {
			t.Errorf("qvt does not wait for %s (depends_on)", m[1])
		}
	}
}

// qvt version and qvt --version print the same line, naming the commit
// (or saying it is unknown) and the platform.
func TestVersionOutput(t *testing.T) {
	_, v, _ := qvt(t, nil, "version")
	_, flag, _ := qvt(t, nil, "--version")
	if v != flag {
		t.Errorf("qvt version %q, qvt --version %q", v, flag)
	}
	if !regexp.MustCompile(`^qvt \S+ \(commit \S+(, built \d{4}-\d\d-\d\d)?, go\S+ [a-z0-9]+/[a-z0-9]+\)\n$`).MatchString(v) {
		t.Errorf("qvt version printed %q", v)
	}
}
