package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"qvt/internal/runs"
)

// Owner is what routing needs of an owner: where its own summaries go.
type Owner struct {
	Name         string
	Email        string
	SlackWebhook string // secret
}

// Route is an owner's own channels.
type Route struct {
	Owner   string
	Senders []Sender
}

// Source is what the notifier reads of the store.
type Source interface {
	// ChangesByOwner counts the changes in [since, until) by owner.
	ChangesByOwner(ctx context.Context, since, until time.Time) (map[string]runs.Changes, error)
	// Expiring lists the active exceptions whose last day is on or
	// before by (YYYY-MM-DD).
	Expiring(ctx context.Context, by string) ([]Expiring, error)
	// Warned reads, for the exceptions named, the last day each was
	// warned of ("" for none).
	Warned(ctx context.Context, names []string) (map[string]string, error)
	// SetWarned records warnings given.
	SetWarned(ctx context.Context, warned map[string]string) error
}

// Notifier tells the configured channels what each run changed, and the
// owners that have their own channels what changed in their findings;
// after a run it warns once of each exception about to expire. It never
// fails a run: each channel's error is logged and handed to Sent.
type Notifier struct {
	Senders  []Sender // everyone's summary
	Routes   []Route  // owners' own summaries
	BaseURL  string   // web.public_url
	WarnDays int      // exceptions.warn_days
	Source   Source   // nil: no owners' part, no warnings of expiry
	Log      *slog.Logger
	Sent     func(channel string, err error)
	Now      func() time.Time
}

// Options are what New takes beside the configuration.
type Options struct {
	Owners   []Owner
	BaseURL  string
	WarnDays int
	Client   *http.Client // nil: the default, with its timeout
	Timing   Timing
}

// New is the notifier of the configured channels; nil when none is
// configured.
func New(cfg Config, o Options) *Notifier {
	n := &Notifier{Senders: Senders(cfg, o.Client, o.Timing), BaseURL: o.BaseURL, WarnDays: o.WarnDays}
	for _, ow := range o.Owners {
		r := Route{Owner: ow.Name}
		if ow.SlackWebhook != "" {
			r.Senders = append(r.Senders, NewHook("slack", "slack:"+ow.Name, ow.SlackWebhook, "", o.Client, o.Timing))
		}
		if ow.Email != "" && cfg.Email.SMTP != "" {
			r.Senders = append(r.Senders, NewMailer("email:"+ow.Name, cfg.Email, []string{ow.Email}, o.Timing))
		}
		if len(r.Senders) > 0 {
			n.Routes = append(n.Routes, r)
		}
	}
	if len(n.Senders)+len(n.Routes) == 0 {
		return nil
	}
	return n
}

// Senders are the configured channels: everyone's summary.
func Senders(cfg Config, client *http.Client, t Timing) []Sender {
	var out []Sender
	if cfg.Slack.WebhookURL != "" {
		out = append(out, NewHook("slack", "slack", cfg.Slack.WebhookURL, "", client, t))
	}
	if cfg.Teams.WebhookURL != "" {
		out = append(out, NewHook("teams", "teams", cfg.Teams.WebhookURL, "", client, t))
	}
	if cfg.Webhook.URL != "" {
		out = append(out, NewHook("webhook", "webhook", cfg.Webhook.URL, cfg.Webhook.Secret, client, t))
	}
	if cfg.Email.SMTP != "" && len(cfg.Email.To) > 0 {
		out = append(out, NewMailer("email", cfg.Email, nil, t))
	}
	return out
}

func (n *Notifier) log() *slog.Logger {
	if n.Log == nil {
		return slog.Default()
	}
	return n.Log
}

func (n *Notifier) now() time.Time {
	if n.Now == nil {
		return time.Now()
	}
	return n.Now()
}

// channelBudget bounds the time one channel may take with all its
// messages of a run, retries and waits included.
const channelBudget = 5 * time.Minute

// delivery is one message to one channel.
type delivery struct {
	to  Sender
	msg Message
}

// RunFinished sends what r changed, then the warnings of expiry. A
// skipped run (another writer held the store) tells nothing.
func (n *Notifier) RunFinished(ctx context.Context, r runs.Report) {
	if n == nil || r.Status == runs.StatusSkipped || r.Status == runs.StatusRunning {
		return
	}
	defer func() {
		// A notifier's bug must not end the scheduler that called it.
		if p := recover(); p != nil {
			n.log().Error("notify: internal error", "panic", fmt.Sprint(p))
		}
	}()
	log := n.log().With("run_id", r.RunID)
	var ds []delivery
	var byOwner map[string]runs.Changes
	if n.Source != nil && !r.Started.IsZero() && !r.Finished.IsZero() {
		var err error
		byOwner, err = n.Source.ChangesByOwner(ctx, r.Started, r.Finished)
		if err != nil {
			log.Warn("notify: the run's changes by owner could not be read; owners get no summary", "err", err)
		}
	}
	whole := RunMessage(r, n.BaseURL)
	if changeCount(whole.Changes) == 0 && byOwner != nil {
		// The run reported no changes of its own: count them from the store.
		for _, c := range byOwner {
			whole.Changes = whole.Changes.Add(c)
		}
	}
	if !whole.Empty() {
		for _, s := range n.Senders {
			ds = append(ds, delivery{s, whole})
		}
	}
	ds = append(ds, ownerDeliveries(r, byOwner, n.Routes, n.BaseURL)...)
	n.deliver(ctx, log, ds)
	n.warnExpiring(ctx, log)
}

// ownerDeliveries are the owners' own summaries of r: for each owner
// with channels, the changes in its findings, when there are any (or the
// run failed: its failures concern every owner).
func ownerDeliveries(r runs.Report, byOwner map[string]runs.Changes, routes []Route, baseURL string) []delivery {
	var ds []delivery
	for _, rt := range routes {
		m := OwnerMessage(r, rt.Owner, byOwner[rt.Owner], baseURL)
		if m.Empty() {
			continue
		}
		for _, s := range rt.Senders {
			ds = append(ds, delivery{s, m})
		}
	}
	return ds
}

// warnExpiring tells the configured channels of the exceptions whose
// last day falls within WarnDays and that were not warned of for that
// last day: once per exception, again only if its expiry is moved. A
// warning no channel delivered is tried again after the next run.
func (n *Notifier) warnExpiring(ctx context.Context, log *slog.Logger) {
	if n.Source == nil || len(n.Senders) == 0 || n.WarnDays <= 0 {
		return
	}
	now := n.now()
	by := now.UTC().AddDate(0, 0, n.WarnDays).Format(time.DateOnly)
	list, err := n.Source.Expiring(ctx, by)
	if err != nil {
		log.Warn("notify: expiring exceptions could not be read", "err", err)
		return
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	warned, err := n.Source.Warned(ctx, names)
	if err != nil {
		log.Warn("notify: expiring exceptions could not be read", "err", err)
		return
	}
	due := Unwarned(list, warned)
	if len(due) == 0 {
		return
	}
	m := ExpiringMessage(due, n.WarnDays, now, n.BaseURL)
	var ds []delivery
	for _, s := range n.Senders {
		ds = append(ds, delivery{s, m})
	}
	if n.deliver(ctx, log, ds) == 0 {
		return
	}
	set := map[string]string{}
	for _, e := range due {
		set[e.Name] = e.Until
	}
	if err := n.Source.SetWarned(ctx, set); err != nil {
		log.Warn("notify: could not record the warnings of expiry; they will be repeated", "err", err)
	}
}

// Unwarned are the exceptions of list not yet warned of for their
// present last day, soonest first.
func Unwarned(list []Expiring, warned map[string]string) []Expiring {
	var out []Expiring
	for _, e := range list {
		if warned[e.Name] != e.Until {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Expiring) int {
		if a.Until != b.Until {
			if a.Until < b.Until {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// deliver sends each message, the channels side by side (one down or
// slow does not hold the others), a channel's messages in turn. It
// returns how many were delivered.
func (n *Notifier) deliver(ctx context.Context, log *slog.Logger, ds []delivery) int {
	var order []string
	per := map[string][]delivery{}
	for _, d := range ds {
		ch := d.to.Channel()
		if _, ok := per[ch]; !ok {
			order = append(order, ch)
		}
		per[ch] = append(per[ch], d)
	}
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for _, ch := range order {
		wg.Go(func() {
			// However many retries, a channel has this long in all.
			ctx, cancel := context.WithTimeout(ctx, channelBudget)
			defer cancel()
			for _, d := range per[ch] {
				err := d.to.Send(ctx, d.msg)
				mu.Lock()
				if err != nil {
					log.Error("notification not sent", "channel", ch, "kind", d.msg.Kind, "err", err)
				} else {
					ok++
					log.Info("notification sent", "channel", ch, "kind", d.msg.Kind)
				}
				if n.Sent != nil {
					n.Sent(ch, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok
}

// Test sends the test message to every channel given, and returns each
// channel's outcome in order.
func Test(ctx context.Context, senders []Sender, m Message) []error {
	errs := make([]error, len(senders))
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Go(func() { errs[i] = s.Send(ctx, m) })
	}
	wg.Wait()
	return errs
}
