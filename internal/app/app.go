// Package app holds qvt's commands. Each command reads its flags, loads the
// configuration and calls into the packages that do the work; none holds
// logic of its own beyond that wiring and printing.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"qvt/internal/clock"
	"qvt/internal/config"
	"qvt/internal/store"
	"qvt/internal/version"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime failure: bad input, an unreachable service, ...
	ExitUsage   = 2 // a command line that does not parse
	// A run stopped by SIGINT exits 130, by SIGTERM 143: 128 plus the
	// signal's number, as shells report a process the signal killed.
	ExitInterrupted = 130
)

// usageError marks errors in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// env holds what every command shares: where to write, the global flags
// and, once loaded, the configuration and logger.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	configPath     string
	dbFlag         string
	verbose        bool
	quiet          bool // only errors are printed (sync, publish, run)
	cpuProfile     string
	stopProfile    func()
	cfg            *config.Config
	log            *slog.Logger
	command        string          // the running command's name
	wait           bool            // --wait: wait for the store's writer lock
	adopt          bool            // --adopt: the store follows another Qualys subscription
	lock           store.WriteLock // held by a writing command until Run returns
	urlSecrets     []string        // passwords of store URLs given as flags (store copy)
	logFormat      string          // --log-format: text or json ("" reads QVT_LOG_FORMAT)
	runID          string          // this invocation's id, on every JSON log line
}

// Run runs qvt with args (without the program name) and returns the exit
// code. It never panics: a panic is reported as an internal error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "qvt: internal error: %v\n%s", r, debug.Stack())
			code = ExitFailure
		}
	}()
	privateFiles()
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	root := e.rootCommand()
	args, err := legacyArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "qvt: %s\nRun 'qvt --help' for usage.\n", terminalSafe(err.Error(), ""))
		return ExitUsage
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(ctx)
	e.unlockStore()
	if e.stopProfile != nil {
		e.stopProfile()
	}
	if err == nil {
		return ExitOK
	}
	// Messages quote what was typed and what files hold: escaped, so that
	// they cannot drive the terminal.
	msg := terminalSafe(redact(err.Error(), e.secrets()), "\n\t")
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return e.exit(ExitUsage, "qvt: %s\nRun 'qvt --help' for usage.\n", msg)
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return e.exit(interruptedCode(ctx), "qvt: interrupted: %s\n", redact(err.Error(), e.secrets()))
	}
	return e.exit(ExitFailure, "qvt: %s\n", msg)
}

// exit prints why qvt stops and returns code. With JSON logs it is a log
// line too, with the run_id, so that every line of stderr parses.
func (e *env) exit(code int, format string, args ...any) int {
	text := fmt.Sprintf(format, args...)
	if e.log != nil && e.logFormat == logJSON {
		e.log.Error(strings.TrimSpace(strings.TrimPrefix(text, "qvt: ")), "exit_code", code)
		return code
	}
	fmt.Fprint(e.stderr, text)
	return code
}

// legacyArgs maps the old tool's flags onto commands: "-p" runs and
// publishes, "-f" runs a full sync, "-v" is verbose (as it still is).
// They combine as the old tool's did: "-pv", "-vp", "-fpv", "-p -f".
// With a command they make no sense ("qvt -f export"): that is a usage
// error that says so, rather than a command line handed to sync.
func legacyArgs(args []string) ([]string, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return args, nil
	}
	var publish, full, verbose bool
	var rest []string
	var command string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if command == "" && legacyCluster(a) {
			publish = publish || strings.Contains(a, "p")
			full = full || strings.Contains(a, "f")
			verbose = verbose || strings.Contains(a, "v")
			continue
		}
		rest = append(rest, a)
		switch {
		case a == "--":
			i = len(args)
		case globalValueFlags[a] && i+1 < len(args):
			i++
			rest = append(rest, args[i])
		case !strings.HasPrefix(a, "-") && command == "":
			command = a
		}
	}
	if !publish && !full {
		return args, nil
	}
	old := "-f (a full sync)"
	if publish {
		old = "-p (sync and publish)"
	}
	if command != "" {
		return nil, usagef("%s is the old tool's flag and takes no command (got %q): use qvt run or qvt sync --full, or qvt %s without it", old, command, command)
	}
	cmd := "sync"
	if publish {
		cmd = "run"
	}
	out := []string{cmd}
	if full {
		out = append(out, "--full")
	}
	if verbose {
		out = append(out, "-v")
	}
	return append(out, rest...), nil
}

// legacyCluster tells an argument made only of the old tool's short flags:
// -p, -f, -v, alone or combined (-pv, -fpv).
func legacyCluster(a string) bool {
	if len(a) < 2 || a[0] != '-' || a[1] == '-' {
		return false
	}
	return strings.Trim(a[1:], "pfv") == ""
}

// globalValueFlags are the global flags that take the next argument as
// their value, so that it is not read as a command.
var globalValueFlags = map[string]bool{"--config": true, "--db": true, "--cpuprofile": true, "--log-format": true}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "qvt",
		Short: "Qualys vulnerability tracking: findings from Qualys and NVD, scored and tracked to remediation",
		Long: `qvt pulls the Qualys KnowledgeBase, host detections and NVD CVE records into a
local store, joins them into one distinct list of findings (host:QID:port),
scores each with CVSS, gives it a deadline and tracks it to remediation.

The old tool's flags still work: -p (sync and publish), -f (full sync), -v.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Long(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return e.setup(cmd)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.configPath, "config", "", "configuration file (YAML; default $QVT_CONFIG)")
	pf.StringVar(&e.dbFlag, "db", "", "store: SQLite file path or postgres:// URL (default $QVT_DB, else ./qvt.db)")
	pf.BoolVarP(&e.verbose, "verbose", "v", false, "log what happens, in detail")
	pf.StringVar(&e.logFormat, "log-format", "", "log lines as text or json (one object a line with a run_id, for a SIEM; default $QVT_LOG_FORMAT, else text)")
	pf.StringVar(&e.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (for performance reports)")
	pf.MarkHidden("cpuprofile")
	root.SetVersionTemplate("qvt {{.Version}}\n")
	root.AddCommand(
		e.importCommand(),
		e.exportCommand(),
		e.demoCommand(),
		e.genCommand(),
		e.benchCommand(),
		e.historyCommand(),
		e.planCommand(),
		e.rescoreCommand(),
		e.versionCommand(),
		e.syncCommand(),
		e.publishCommand(),
		e.runCommand(),
		e.serveCommand(),
		e.simCommand(),
		e.doctorCommand(),
		e.storeCommand(),
		e.exceptCommand(),
		e.ownersCommand(),
		e.notifyCommand(),
		e.healthcheckCommand(),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
		switch c.Name() {
		case "sync", "run", "import", "rescore", "publish":
			c.Flags().BoolVar(&e.wait, "wait", false, "wait while another qvt writes the store, instead of exiting")
		}
		switch c.Name() {
		case "sync", "run":
			c.Flags().BoolVar(&e.adopt, "adopt", false, "sync from another Qualys subscription than the one that filled the store, and record it")
		}
	}
	return root
}

// setup loads the configuration and the logger before any command runs.
func (e *env) setup(cmd *cobra.Command) error {
	e.command = cmd.Name()
	// A QVT_NOW that does not parse would otherwise fall back to the real
	// clock unseen: a report "as of" a date would silently be of today.
	if err := clock.Check(); err != nil {
		return usageError{err}
	}
	path := e.configPath
	if path == "" {
		path = e.getenv("QVT_CONFIG")
	}
	cfg, err := config.Load(path, e.getenv)
	if err != nil {
		return err
	}
	if e.dbFlag != "" {
		cfg.DB = e.dbFlag
	}
	e.cfg = cfg
	level := slog.LevelInfo
	if e.verbose {
		level = slog.LevelDebug
	}
	if e.quiet {
		if e.verbose {
			return usagef("--quiet and --verbose contradict each other")
		}
		level = slog.LevelError
		e.stdout = io.Discard
	}
	format, err := e.logFormatIn()
	if err != nil {
		return err
	}
	e.logFormat = format
	e.runID = newRunID()
	e.log = slog.New(logHandler(e.stderr, format, level, e.runID, e.secrets()))
	if e.cpuProfile != "" {
		f, err := os.Create(e.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		e.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	return nil
}

// logFormatIn is the log format the flag, else QVT_LOG_FORMAT, asks for.
func (e *env) logFormatIn() (string, error) {
	name, v := "--log-format", e.logFormat
	if v == "" {
		name, v = "QVT_LOG_FORMAT", e.getenv("QVT_LOG_FORMAT")
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", logText:
		return logText, nil
	case logJSON:
		return logJSON, nil
	}
	return "", usagef("%s %q: want text or json", name, v)
}

func (e *env) secrets() []string {
	s := slices.Clone(e.urlSecrets)
	if e.cfg == nil {
		return s
	}
	if p := urlPassword(e.cfg.DB); p != "" {
		s = append(s, p)
	}
	if p := urlPassword(e.getenv("QVT_DB_LOCK")); p != "" {
		s = append(s, p)
	}
	return append(s, e.cfg.Secrets()...)
}

func buildVersion() string { return version.String() }

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print qvt's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(e.stdout, "qvt %s\n", version.Long())
			return err
		},
	}
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", cmd.CommandPath(), args[0])
	}
	return nil
}

// Main is what cmd/qvt calls.
func Main() int {
	ctx, stop := signalContext()
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
}
