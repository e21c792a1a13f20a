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
	"strings"

	"github.com/spf13/cobra"

	"qvt/internal/config"
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
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	root := e.rootCommand()
	root.SetArgs(legacyArgs(args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if e.stopProfile != nil {
		e.stopProfile()
	}
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "qvt: %v\nRun 'qvt --help' for usage.\n", err)
		return ExitUsage
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "qvt: interrupted: %s\n", redact(err.Error(), e.secrets()))
		return interruptedCode(ctx)
	}
	fmt.Fprintf(stderr, "qvt: %s\n", redact(err.Error(), e.secrets()))
	return ExitFailure
}

// legacyArgs maps the old tool's flags onto commands: "-p" runs and
// publishes, "-f" runs a full sync, "-v" is verbose (as it still is).
func legacyArgs(args []string) []string {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return args
	}
	var cmd string
	var rest []string
	for _, a := range args {
		switch a {
		case "-p":
			cmd = "run"
		case "-f":
			if cmd == "" {
				cmd = "sync"
			}
			rest = append(rest, "--full")
		case "-pf", "-fp":
			cmd = "run"
			rest = append(rest, "--full")
		default:
			rest = append(rest, a)
		}
	}
	if cmd == "" {
		return args
	}
	return append([]string{cmd}, rest...)
}

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
		Version:       buildVersion(),
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
	pf.StringVar(&e.dbFlag, "db", "", "store: SQLite file path (default $QVT_DB, else ./qvt.db)")
	pf.BoolVarP(&e.verbose, "verbose", "v", false, "log what happens, in detail")
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
		e.rescoreCommand(),
		e.versionCommand(),
		e.syncCommand(),
		e.publishCommand(),
		e.runCommand(),
		e.serveCommand(),
		e.simCommand(),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	return root
}

// setup loads the configuration and the logger before any command runs.
func (e *env) setup(cmd *cobra.Command) error {
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
	e.log = slog.New(newRedactingHandler(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}), cfg.Secrets()))
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

func (e *env) secrets() []string {
	if e.cfg == nil {
		return nil
	}
	return e.cfg.Secrets()
}

func buildVersion() string { return version.String() }

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print qvt's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(e.stdout, "qvt %s\n", buildVersion())
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
