package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
