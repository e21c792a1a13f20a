package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/notify"
	"qvt/internal/runs"
	"qvt/internal/store"
)

// smtpTLS, when set, is the TLS configuration of the e-mail channel:
// tests trust their SMTP double's certificate with it.
var smtpTLS *tls.Config

// notifier is the notifier of the configured channels (everyone's and
// the owners'); nil when none is configured.
func (e *env) notifier(sent func(channel string, err error)) *notify.Notifier {
	if e.cfg == nil {
		return nil
	}
	var owners []notify.Owner
	for _, r := range e.cfg.Owners {
		if r.Contact.Email != "" || r.Contact.SlackWebhook != "" {
			owners = append(owners, notify.Owner{Name: r.Name, Email: r.Contact.Email, SlackWebhook: r.Contact.SlackWebhook})
		}
	}
	n := notify.New(e.cfg.Notify, notify.Options{
		Owners:   owners,
		BaseURL:  e.cfg.Web.PublicURL,
		WarnDays: e.cfg.Exceptions.WithDefaults().WarnDays,
	})
	if n == nil {
		return nil
	}
	for _, s := range append(n.Senders, routeSenders(n.Routes)...) {
		if m, ok := s.(*notify.Mailer); ok {
			m.TLS = smtpTLS
		}
	}
	n.Source = storeSource{e}
	n.Log = e.log
	n.Sent = sent
	n.Now = clock.Now
	return n
}

func routeSenders(rs []notify.Route) []notify.Sender {
	var out []notify.Sender
	for _, r := range rs {
		out = append(out, r.Senders...)
	}
	return out
}

// notifyObserver is the notifiers of the configured channels, told of
// every finished run; nil when none is configured. sent, when not nil,
// hears each message's outcome per channel (for /metrics).
func (e *env) notifyObserver(sent func(channel string, err error)) runs.Observer {
	if n := e.notifier(sent); n != nil {
		return n
	}
	return nil
}

// storeSource reads what the notifier needs from the store, opening it
// for each read: the observer outlives no command, but a long-running
// qvt serve should not hold a handle for it.
type storeSource struct{ e *env }

// warnedTarget and warnedPrefix name where the warnings of expiry given
// are kept: publish_state rows (target notify, name
// expiry_warned:EXC-12, value the last day warned of).
const (
	warnedTarget = "notify"
	warnedPrefix = "expiry_warned:"
)

func (s storeSource) with(ctx context.Context, fn func(*store.Store) error) error {
	st, err := s.e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

func (s storeSource) ChangesByOwner(ctx context.Context, since, until time.Time) (map[string]runs.Changes, error) {
	var out map[string]runs.Changes
	err := s.with(ctx, func(st *store.Store) (err error) {
		out, err = st.RunChangesByOwner(ctx, since, until)
		return err
	})
	return out, err
}

func (s storeSource) Expiring(ctx context.Context, by string) ([]notify.Expiring, error) {
	var out []notify.Expiring
	err := s.with(ctx, func(st *store.Store) error {
		list, err := st.Exceptions(ctx, store.ExceptionFilter{States: []string{exceptions.Active}, ExpiringBy: by})
		for _, x := range list {
			out = append(out, notify.Expiring{Name: x.Name(), Until: x.Until, Covered: x.Covered, Reason: x.Reason})
		}
		return err
	})
	return out, err
}

func (s storeSource) Warned(ctx context.Context, names []string) (map[string]string, error) {
	out := map[string]string{}
	err := s.with(ctx, func(st *store.Store) error {
		for _, n := range names {
			v, err := st.PublishState(ctx, warnedTarget, warnedPrefix+n)
			if err != nil {
				return err
			}
			out[n] = v
		}
		return nil
	})
	return out, err
}

func (s storeSource) SetWarned(ctx context.Context, warned map[string]string) error {
	kv := map[string]string{}
	for n, until := range warned {
		kv[warnedPrefix+n] = until
	}
	return s.with(ctx, func(st *store.Store) error { return st.SetPublishState(ctx, warnedTarget, kv) })
}

func (e *env) notifyCommand() *cobra.Command {
	var test, last bool
	cmd := &cobra.Command{
		Use:   "notify (--test | --last)",
		Short: "Send a test notification, or the summary of the last run",
		Long: `Send notifications to the channels of the notify: section (Slack,
Microsoft Teams, the signed JSON webhook, e-mail) and to the owners whose
contact names their own Slack webhook or e-mail address.

qvt serve --schedule and qvt run notify after each run by themselves.

  qvt notify --test   send a test message to every channel and print each result
  qvt notify --last   send the summary of the last recorded run (after a cron qvt run)`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case test == last:
				return usagef("give --test or --last")
			case test:
				return e.notifyTest(cmd.Context())
			}
			return e.notifyLast(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&test, "test", false, "send a test message to every configured channel")
	cmd.Flags().BoolVar(&last, "last", false, "send the summary of the last recorded run")
	return cmd
}

var errNoChannel = errors.New("no notification channel is configured: set notify.slack, notify.teams, notify.webhook or notify.email, or an owner's contact.slack_webhook or contact.email (README, Notifications)")

func (e *env) notifyTest(ctx context.Context) error {
	n := e.notifier(nil)
	if n == nil {
		return errNoChannel
	}
	senders := append(n.Senders, routeSenders(n.Routes)...)
	errs := notify.Test(ctx, senders, notify.TestMessage(clock.Now(), e.cfg.Web.PublicURL))
	failed := 0
	for i, s := range senders {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(e.stdout, "%-20s %s\n", s.Channel()+":", terminalSafe(errs[i].Error(), ""))
			continue
		}
		fmt.Fprintf(e.stdout, "%-20s ok\n", s.Channel()+":")
	}
	if failed > 0 {
		return fmt.Errorf("notify: %d of %d channels failed", failed, len(senders))
	}
	return nil
}

func (e *env) notifyLast(ctx context.Context) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	r, err := st.LastJobRun(ctx, "")
	st.Close()
	if err != nil {
		return err
	}
	if r == nil {
		return errors.New("notify: no run is recorded yet (qvt run records one)")
	}
	var sent, failed int
	n := e.notifier(func(channel string, err error) {
		sent++
		if err != nil {
			failed++
			fmt.Fprintf(e.stdout, "%-20s %s\n", channel+":", terminalSafe(err.Error(), ""))
			return
		}
		fmt.Fprintf(e.stdout, "%-20s ok\n", channel+":")
	})
	if n == nil {
		return errNoChannel
	}
	n.RunFinished(ctx, *r)
	if sent == 0 {
		fmt.Fprintf(e.stdout, "run %s changed nothing to tell\n", r.RunID)
	}
	if failed > 0 {
		return fmt.Errorf("notify: %d of %d messages failed", failed, sent)
	}
	return nil
}
