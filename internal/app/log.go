package app

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
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
// import rolls back instead of leaving half its data.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
