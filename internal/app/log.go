package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"qvt/internal/runs"
)

// redactingHandler removes secret values (passwords, API keys, tokens)
// from every log message and attribute, including those a logger carries
// from With and WithGroup, in the places redact (redact.go) knows: a URL
// with credentials or an error quoting a request must not leak them.
type redactingHandler struct {
	slog.Handler
	secrets []string
}

func newRedactingHandler(h slog.Handler, secrets []string) slog.Handler {
	return &redactingHandler{Handler: h, secrets: secrets}
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, redact(r.Message, h.secrets), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, nr)
}

func (h *redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact(v.String(), h.secrets))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, x := range attrs {
			out[i] = h.redactAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redact(err.Error(), h.secrets))
		}
		return slog.String(a.Key, redact(v.String(), h.secrets))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return &redactingHandler{Handler: h.Handler.WithAttrs(red), secrets: h.secrets}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{Handler: h.Handler.WithGroup(name), secrets: h.secrets}
}

// signalContext is cancelled on SIGINT or SIGTERM, so an interrupted
// import rolls back instead of leaving half its data, and a sync commits
// the batches that arrived. The cause names the signal, for the exit
// code. A second signal kills the process at once, as without qvt's
// handler.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-c:
			signal.Stop(c)
			cancel(signalled{sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(c); cancel(nil) }
}

// signalled is the cause of a context cancelled by a signal.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string        { return s.sig.String() + " signal received" }
func (s signalled) Is(target error) bool { return target == context.Canceled }

// interruptedCode is the exit code of a run the signal behind ctx stopped:
// 128 plus the signal's number (130 for SIGINT, 143 for SIGTERM).
func interruptedCode(ctx context.Context) int {
	if s, ok := errors.AsType[signalled](context.Cause(ctx)); ok {
		if n, ok := s.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return ExitInterrupted
}

// addQuiet gives a command meant for cron its --quiet flag.
func (e *env) addQuiet(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&e.quiet, "quiet", "q", false, "print only errors (for cron): no summary, no progress, no log lines below errors")
}

// Log formats (--log-format, QVT_LOG_FORMAT).
const (
	logText = "text" // key=value lines for people, the default
	logJSON = "json" // one JSON object a line, for a SIEM
)

// newRunID is the id of one invocation of qvt, on every JSON log line so
// that a SIEM can gather a run's lines: 12 hex digits, unique enough
// among the runs of one installation.
func newRunID() string { return runs.NewRunID() }

// runIDHandler puts run_id first on every record, top-level whatever
// groups a logger opened. A logger made with With("run_id", id) carries
// that id instead of its parent's: the scheduler of qvt serve gives each
// run its own (withRunID). slog's own With would add a second run_id
// beside the first; this handler keeps the attributes and groups it was
// given and replays them over the root handler when the id changes. (A
// run_id passed to one call, log.Info(msg, "run_id", id), is not looked
// for: give a run its logger instead.)
type runIDHandler struct {
	root slog.Handler // the handler without run_id, attributes or groups
	id   string
	ops  []logOp      // With and WithGroup calls since root, in order
	h    slog.Handler // root with run_id and ops applied
}

// logOp is one With (attrs) or WithGroup (group) call.
type logOp struct {
	attrs []slog.Attr
	group string
}

func newRunIDHandler(root slog.Handler, id string) *runIDHandler {
	return build(root, id, nil)
}

func build(root slog.Handler, id string, ops []logOp) *runIDHandler {
	h := root.WithAttrs([]slog.Attr{slog.String("run_id", id)})
	for _, op := range ops {
		if op.attrs != nil {
			h = h.WithAttrs(op.attrs)
		} else {
			h = h.WithGroup(op.group)
		}
	}
	return &runIDHandler{root: root, id: id, ops: ops, h: h}
}

func (h *runIDHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *runIDHandler) Handle(ctx context.Context, r slog.Record) error { return h.h.Handle(ctx, r) }

func (h *runIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	id, rest := h.id, make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a.Key == "run_id" {
			id = a.Value.Resolve().String()
			continue
		}
		rest = append(rest, a)
	}
	ops := h.ops
	if len(rest) > 0 {
		ops = append(slices.Clip(h.ops), logOp{attrs: rest})
	}
	if id != h.id {
		return build(h.root, id, ops)
	}
	return &runIDHandler{root: h.root, id: h.id, ops: ops, h: h.h.WithAttrs(rest)}
}

func (h *runIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &runIDHandler{root: h.root, id: h.id, ops: append(slices.Clip(h.ops), logOp{group: name}), h: h.h.WithGroup(name)}
}

// withRunID is l with run_id id on its lines: one run of the daily job
// among the others of a long-running qvt serve. It replaces the process's
// run_id in JSON logs, and adds run_id=… to text lines.
func withRunID(l *slog.Logger, id string) *slog.Logger { return l.With("run_id", id) }

// logHandler is the handler of a command's logger: text or JSON on w at
// level, secrets redacted; JSON lines carry runID.
func logHandler(w io.Writer, format string, level slog.Level, runID string, secrets []string) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == logJSON {
		return newRedactingHandler(newRunIDHandler(slog.NewJSONHandler(w, opts), runID), secrets)
	}
	return newRedactingHandler(slog.NewTextHandler(w, opts), secrets)
}
