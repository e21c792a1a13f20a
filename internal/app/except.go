package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/export"
	"qvt/internal/store"
)

func (e *env) exceptCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "except",
		Short: "Record, review and end exceptions: findings the business accepts until a date",
		Long: `An exception (risk_accepted, false_positive, compensating_control) covers one
finding, or a QID on every host or on those a host, tag or address range
selects, with a reason and an approver, from its start to its last day
(--until; required for risk_accepted, at most exceptions.max_days). While
it lasts, the findings it covers stay open but are excepted: they leave
the overdue and due-soon counts, and their Jira issues are resolved. When
it expires or is revoked they come back by themselves.

A QID-wide scope is fixed when the exception is recorded: it covers the
hosts it covered then, unless recorded with --future-hosts.

Every change is kept with who made it and when (qvt except show). qvt
except export writes the active exceptions as YAML for review in git, and
qvt except import applies a reviewed file as the whole truth.`,
		Example: `  qvt except add --qid 38794 --tag "Legacy DMZ" --type risk_accepted \
     --reason "TLS 1.1 needed by the payment terminal" --approver ciso@corp.example --until 2027-03-31
  qvt except list --expiring 30d
  qvt except revoke EXC-12 --reason "terminal replaced"
  qvt except export -o exceptions.yaml && qvt except import exceptions.yaml --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("except: unknown command %q (want add, list, show, extend, revoke, export or import)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(e.exceptAddCommand(), e.exceptListCommand(), e.exceptShowCommand(), e.exceptExtendCommand(),
		e.exceptRevokeCommand(), e.exceptExportCommand(), e.exceptImportCommand())
	return cmd
}

// writerFlags are the flags of the except commands that write: who does
// it, and whether to wait for another writer.
func (e *env) writerFlags(fl *pflag.FlagSet, by *string, what string) {
	fl.StringVar(by, "by", "", what+" (default $USER)")
	fl.BoolVar(&e.wait, "wait", false, "wait while another qvt writes the store, instead of exiting")
}

// actor is --by, else the user running qvt.
func (e *env) actor(by string) (string, error) {
	if by = strings.TrimSpace(by); by != "" {
		return by, nil
	}
	if u := strings.TrimSpace(e.getenv("USER")); u != "" {
		return u, nil
	}
	return "", usagef("--by: say who records this (no $USER to default to)")
}

// exceptionArg reads the one EXC-12 argument of show, extend and revoke.
func exceptionArg(cmd *cobra.Command, args []string) (int64, error) {
	if len(args) != 1 {
		return 0, usagef("%s: name one exception, e.g. EXC-12", cmd.CommandPath())
	}
	id, err := exceptions.ParseName(args[0])
	if err != nil {
		return 0, usagef("%s: %v", cmd.CommandPath(), err)
	}
	return id, nil
}

// writeExceptions opens the store for writing and runs fn in one write
// (applyExceptions); the store is returned open on success.
func (e *env) writeExceptions(ctx context.Context, fn func(tx *store.Tx) error) (*store.Store, store.ApplyResult, error) {
	st, err := e.openWriter(ctx, "")
	if err != nil {
		return nil, store.ApplyResult{}, err
	}
	res, err := e.applyExceptions(ctx, st, fn)
	if err != nil {
		st.Close()
		return nil, res, err
	}
	return st, res, nil
}

// applyExceptions runs fn in one write of the store (after owners are
// reassigned if their rules changed), between two applications of the
// exceptions: the first records the expiry of those
// past their last day (so that an expired exception cannot be edited
// back to life), the second brings the findings in line with what fn
// changed. It returns what the second changed.
func (e *env) applyExceptions(ctx context.Context, st *store.Store, fn func(tx *store.Tx) error) (store.ApplyResult, error) {
	var res store.ApplyResult
	l := e.loader()
	err := st.Write(ctx, func(tx *store.Tx) error {
		// Changed owner rules apply with any write, as with an import.
		if err := l.CheckOwners(tx); err != nil {
			return err
		}
		if _, err := l.ApplyExceptions(tx); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		res, err = l.ApplyExceptions(tx)
		return err
	})
	return res, err
}

func (e *env) exceptAddCommand() *cobra.Command {
	var (
		key, host, tag, cidr, typ, reason, approver, until, start, by string
		qid, port                                                     int
		future                                                        bool
	)
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Record an exception",
		Long: `Record an exception and except the findings it covers at once. The scope is
one finding (--key ip:qid:port) or a QID (--qid) with an optional --host,
--tag, --cidr and --port; a QID-wide scope covers the hosts that have an
open finding of it now, and only those, unless --future-hosts is given.`,
		Example: `  qvt except add --qid 38794 --tag "Legacy DMZ" --type risk_accepted \
     --reason "TLS 1.1 needed by the payment terminal" --approver ciso@corp.example --until 2027-03-31
  qvt except add --key 10.1.2.3:105936:443 --type false_positive --reason "patched build" --approver secops@corp.example`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			today := clock.Today()
			fl := cmd.Flags()
			x := &exceptions.Exception{Scope: exceptions.Scope{Key: strings.TrimSpace(key), Host: strings.TrimSpace(host),
				Tag: strings.TrimSpace(tag), CIDR: strings.TrimSpace(cidr), FutureHosts: future},
				Reason: strings.TrimSpace(reason), Approver: strings.TrimSpace(approver)}
			switch {
			case x.Scope.Key == "" && !fl.Changed("qid"):
				return usagef("except add: give --qid N (with --host, --tag, --cidr or --port to narrow it) or --key ip:qid:port")
			case fl.Changed("qid") && qid <= 0:
				return usagef("--qid: %d is not a QID", qid)
			case fl.Changed("port") && (port < 0 || port > 65535):
				return usagef("--port: %d is not a port", port)
			}
			x.Scope.QID = qid
			if fl.Changed("port") {
				x.Scope.Port = &port
			}
			if typ == "" {
				return usagef("--type: give the type: %s", strings.Join(exceptions.Types, ", "))
			}
			t, err := exceptions.ParseType(typ)
			if err != nil {
				return usagef("--type: %v", err)
			}
			x.Type = t
			if x.Reason == "" {
				return usagef("--reason: an exception needs a reason")
			}
			if x.Approver == "" {
				return usagef("--approver: an exception needs an approver")
			}
			if start != "" {
				if _, err := time.Parse(time.DateOnly, strings.TrimSpace(start)); err != nil {
					return usagef("--start: %q is not a date (YYYY-MM-DD)", start)
				}
				x.Start = strings.TrimSpace(start)
			}
			if until != "" {
				u, err := exceptions.ParseUntil(until, today)
				if err != nil {
					return usagef("--until: %v", err)
				}
				x.Until = u
			}
			if x.RecordedBy, err = e.actor(by); err != nil {
				return err
			}
			if err := x.Validate(e.cfg.Exceptions, today); err != nil {
				return usagef("except add: %s", flagNamed(err))
			}
			ctx := cmd.Context()
			st, _, err := e.writeExceptions(ctx, func(tx *store.Tx) error {
				_, err := tx.AddException(x, clock.Now())
				return err
			})
			if err != nil {
				return fmt.Errorf("except add: %w", err)
			}
			defer st.Close()
			got, _, err := st.Exception(ctx, x.ID)
			if err != nil {
				return fmt.Errorf("except add: %w", err)
			}
			line := fmt.Sprintf("%s: %s, %s: %d %s excepted", got.Name(), got.Type, got.Scope, got.Covered, plural(got.Covered, "finding", "findings"))
			if got.Until != "" {
				line += " until " + got.Until
			} else {
				line += ", no expiry"
			}
			if got.Start > today {
				line += " (from " + got.Start + ")"
			}
			_, err = fmt.Fprintln(e.stdout, terminalSafe(line, ""))
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&qid, "qid", 0, "the QID the exception covers")
	fl.StringVar(&key, "key", "", "one finding instead: its key ip:qid:port")
	fl.StringVar(&host, "host", "", "only on this host (address, hostname or Qualys host id)")
	fl.StringVar(&tag, "tag", "", "only on hosts with this Qualys tag (any case)")
	fl.StringVar(&cidr, "cidr", "", "only on hosts in this address range (10.1.0.0/16)")
	fl.IntVar(&port, "port", 0, "only the findings on this port")
	fl.BoolVar(&future, "future-hosts", false, "cover hosts the scope selects later too (else only those it covers now)")
	fl.StringVar(&typ, "type", "", "risk_accepted, false_positive or compensating_control")
	fl.StringVar(&reason, "reason", "", "why the findings are accepted")
	fl.StringVar(&approver, "approver", "", "who approved it")
	fl.StringVar(&until, "until", "", "its last day: YYYY-MM-DD or a number of days (90d); required for risk_accepted")
	fl.StringVar(&start, "start", "", "its first day, YYYY-MM-DD (default today)")
	e.writerFlags(fl, &by, "who records it")
	return cmd
}

// flagNamed names the flag of an exception's validation error.
func flagNamed(err error) string {
	msg := err.Error()
	for _, p := range []struct{ prefix, flag string }{
		{"until: ", "--until: "}, {"start: ", "--start: "}, {"scope: cidr: ", "--cidr: "}, {"scope: port ", "--port: port "},
		{"scope: a finding key", "--key: a finding key"}, {"scope: the key", "--key: the key"}, {"scope: ", "--key/--qid: "},
	} {
		if rest, ok := strings.CutPrefix(msg, p.prefix); ok {
			return p.flag + rest
		}
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// shownState is an exception's state as of today: one past its last day
// is expired even before a write records it, as the findings it covered
// are no longer excepted.
func shownState(x exceptions.Exception, today string) string {
	if x.State == exceptions.Active && x.Until != "" && x.Until < today {
		return exceptions.Expired
	}
	return x.State
}

// exceptionJSON is an exception in list --format json.
type exceptionJSON struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	State      string           `json:"state"`
	Scope      exceptions.Scope `json:"scope"`
	Reason     string           `json:"reason"`
	Approver   string           `json:"approver"`
	RecordedBy string           `json:"recorded_by"`
	RecordedAt string           `json:"recorded_at"`
	Start      string           `json:"start"`
	Until      string           `json:"until"`
	EndedAt    string           `json:"ended_at,omitempty"`
	EndedBy    string           `json:"ended_by,omitempty"`
	Covered    int              `json:"covered"`
}

func exceptionRecord(x exceptions.Exception, today string) exceptionJSON {
	j := exceptionJSON{ID: x.Name(), Type: x.Type, State: shownState(x, today), Scope: x.Scope, Reason: x.Reason,
		Approver: x.Approver, RecordedBy: x.RecordedBy, RecordedAt: x.RecordedAt.UTC().Format(time.RFC3339),
		Start: x.Start, Until: x.Until, EndedBy: x.EndedBy, Covered: x.Covered}
	if !x.EndedAt.IsZero() {
		j.EndedAt = x.EndedAt.UTC().Format(time.RFC3339)
	}
	return j
}

var exceptStates = []string{exceptions.Active, exceptions.Revoked, exceptions.Expired, "all"}

func (e *env) exceptListCommand() *cobra.Command {
	var state, expiring, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List exceptions with the findings each covers today",
		Example: `  qvt except list
  qvt except list --expiring 30d
  qvt except list --state all --format csv -o exceptions.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			today := clock.Today()
			st := strings.ToLower(strings.TrimSpace(state))
			if !slices.Contains(exceptStates, st) {
				return usagef("--state: unknown state %q (want %s)", state, strings.Join(exceptStates, ", "))
			}
			format = strings.ToLower(strings.TrimSpace(format))
			if !slices.Contains([]string{"table", "json", "csv"}, format) {
				return usagef("--format: unknown format %q (want table, json or csv)", format)
			}
			by := ""
			if expiring != "" {
				u, err := exceptions.ParseUntil(expiring, today)
				if err != nil {
					return usagef("--expiring: %v", err)
				}
				by = u
			}
			ctx := cmd.Context()
			s, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.Exceptions(ctx, store.ExceptionFilter{})
			if err != nil {
				return fmt.Errorf("except list: %w", err)
			}
			var list []exceptions.Exception
			for _, x := range all {
				shown := shownState(x, today)
				if st != "all" && shown != st {
					continue
				}
				if by != "" && (shown != exceptions.Active || x.Until == "" || x.Until > by) {
					continue
				}
				list = append(list, x)
			}
			// By id, as the file lists them.
			slices.SortFunc(list, func(a, b exceptions.Exception) int { return int(a.ID - b.ID) })
			return writeExceptionList(e.stdout, list, format, today)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&state, "state", "active", "active, revoked, expired or all")
	fl.StringVar(&expiring, "expiring", "", "only active exceptions whose last day is within this many days (30d) or on or before this date")
	fl.StringVar(&format, "format", "table", "table, json or csv")
	return cmd
}

func writeExceptionList(w io.Writer, list []exceptions.Exception, format, today string) error {
	switch format {
	case "json":
		recs := make([]exceptionJSON, 0, len(list))
		for _, x := range list {
			recs = append(recs, exceptionRecord(x, today))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	case "csv":
		c := csv.NewWriter(w)
		c.Write([]string{"id", "type", "state", "scope", "reason", "approver", "recorded_by", "recorded_at", "start", "until", "ended_at", "ended_by", "covered"})
		for _, x := range list {
			j := exceptionRecord(x, today)
			c.Write([]string{j.ID, j.Type, j.State, export.Cell(x.Scope.String()), export.Cell(j.Reason), export.Cell(j.Approver),
				export.Cell(j.RecordedBy), j.RecordedAt, j.Start, j.Until, j.EndedAt, export.Cell(j.EndedBy), strconv.Itoa(j.Covered)})
		}
		c.Flush()
		return c.Error()
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no exceptions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATE\tSTART\tUNTIL\tCOVERED\tAPPROVER\tSCOPE\tREASON")
	for _, x := range list {
		reason := terminalSafe(x.Reason, "")
		if n := 50; len([]rune(reason)) > n {
			reason = string([]rune(reason)[:n-1]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.Name(), x.Type, shownState(x, today), x.Start, orDash(x.Until),
			x.Covered, terminalSafe(x.Approver, ""), terminalSafe(x.Scope.String(), ""), reason)
	}
	return tw.Flush()
}

func (e *env) exceptShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "show EXC-12",
		Short:   "Show one exception: its fields, hosts, covered findings and audit trail",
		Example: `  qvt except show EXC-12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := exceptionArg(cmd, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			x, events, err := st.Exception(ctx, id)
			if errors.Is(err, store.ErrNoException) {
				return fmt.Errorf("except show: no exception %s in %s", exceptions.Name(id), store.Shown(e.cfg.DB))
			}
			if err != nil {
				return fmt.Errorf("except show: %w", err)
			}
			writeException(e.stdout, x, events, clock.Today())
			return nil
		},
	}
}

func writeException(w io.Writer, x exceptions.Exception, events []store.ExceptionEvent, today string) {
	var b strings.Builder
	safe := func(s string) string { return terminalSafe(s, "") }
	fmt.Fprintf(&b, "%s  %s, %s\n", x.Name(), x.Type, shownState(x, today))
	fmt.Fprintf(&b, "scope:       %s\n", safe(x.Scope.String()))
	fmt.Fprintf(&b, "reason:      %s\n", safe(x.Reason))
	fmt.Fprintf(&b, "approver:    %s\n", safe(x.Approver))
	fmt.Fprintf(&b, "recorded:    %s by %s\n", x.RecordedAt.UTC().Format(time.RFC3339), safe(orDash(x.RecordedBy)))
	until := x.Until
	if until == "" {
		until = "no expiry"
	}
	fmt.Fprintf(&b, "runs:        %s to %s\n", x.Start, until)
	if !x.EndedAt.IsZero() {
		fmt.Fprintf(&b, "ended:       %s %s", x.State, x.EndedAt.UTC().Format(time.RFC3339))
		if x.EndedBy != "" {
			fmt.Fprintf(&b, " by %s", safe(x.EndedBy))
		}
		b.WriteString("\n")
	}
	switch {
	case x.Scope.FutureHosts:
		b.WriteString("hosts:       every host the scope selects, future hosts included\n")
	default:
		ids := make([]string, len(x.Hosts))
		for i, h := range x.Hosts {
			ids[i] = strconv.FormatInt(h, 10)
		}
		fmt.Fprintf(&b, "hosts:       %d fixed when recorded (host ids %s)\n", len(x.Hosts), orDash(strings.Join(ids, ", ")))
	}
	fmt.Fprintf(&b, "covers:      %d open %s today\n", x.Covered, plural(x.Covered, "finding", "findings"))
	b.WriteString("audit trail:\n")
	for _, ev := range events {
		fmt.Fprintf(&b, "  %s  %-6s  by %s", ev.At.UTC().Format(time.RFC3339), safe(ev.Action), safe(orDash(ev.Actor)))
		if d := eventDetail(ev.Detail); d != "" {
			b.WriteString("  " + safe(d))
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// eventDetail is an audit event's detail (JSON) as key=value pairs in
// key order; the hosts of an add are a count.
func eventDetail(detail string) string {
	var m map[string]any
	if detail == "" || json.Unmarshal([]byte(detail), &m) != nil {
		return detail
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		v := m[k]
		switch t := v.(type) {
		case string:
			if t == "" {
				continue
			}
			if strings.ContainsAny(t, " ,=") && !strings.Contains(t, "→") {
				v = strconv.Quote(t)
			}
		case map[string]any:
			if k == "scope" {
				continue // the scope never changes: shown above
			}
		case float64:
			v = strconv.FormatFloat(t, 'f', -1, 64)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}

func (e *env) exceptExtendCommand() *cobra.Command {
	var until, reason, by string
	cmd := &cobra.Command{
		Use:   "extend EXC-12 --until DATE",
		Short: "Move an active exception's last day (and change its reason)",
		Long: `Move an active exception's last day, within exceptions.max_days of its start,
and optionally give it a new reason. Its type, scope and approver never
change: a wider scope or a new approval is a new exception.`,
		Example: `  qvt except extend EXC-12 --until 2027-06-30 --reason "terminal replacement delayed to June"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := exceptionArg(cmd, args)
			if err != nil {
				return err
			}
			today := clock.Today()
			if strings.TrimSpace(until) == "" {
				return usagef("--until: give the new last day (YYYY-MM-DD or 90d)")
			}
			u, err := exceptions.ParseUntil(until, today)
			if err != nil {
				return usagef("--until: %v", err)
			}
			actor, err := e.actor(by)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var old exceptions.Exception
			st, _, err := e.writeExceptions(ctx, func(tx *store.Tx) error {
				if old, err = tx.GetException(id); err != nil {
					return err
				}
				if old.State != exceptions.Active {
					return fmt.Errorf("%s is %s: record a new exception instead", old.Name(), old.State)
				}
				if err := exceptions.CheckUntil(u, old.Start, today, e.cfg.Exceptions); err != nil {
					return usagef("--until: %s", strings.TrimPrefix(err.Error(), "until: "))
				}
				return tx.EditException(id, u, strings.TrimSpace(reason), actor, clock.Now())
			})
			if err != nil {
				if errors.Is(err, store.ErrNoException) {
					return fmt.Errorf("except extend: no exception %s in %s", exceptions.Name(id), store.Shown(e.cfg.DB))
				}
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return fmt.Errorf("except extend: %w", err)
			}
			defer st.Close()
			x, _, err := st.Exception(ctx, id)
			if err != nil {
				return fmt.Errorf("except extend: %w", err)
			}
			_, err = fmt.Fprintf(e.stdout, "%s: until %s → %s; %d %s excepted\n", x.Name(), orDash(old.Until), x.Until,
				x.Covered, plural(x.Covered, "finding", "findings"))
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&until, "until", "", "the new last day: YYYY-MM-DD or a number of days from today (90d)")
	fl.StringVar(&reason, "reason", "", "a new reason (default: unchanged)")
	e.writerFlags(fl, &by, "who extends it")
	return cmd
}

func (e *env) exceptRevokeCommand() *cobra.Command {
	var reason, by string
	cmd := &cobra.Command{
		Use:     "revoke EXC-12",
		Short:   "End an exception now: the findings it covered come back",
		Example: `  qvt except revoke EXC-12 --reason "payment terminal replaced"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := exceptionArg(cmd, args)
			if err != nil {
				return err
			}
			actor, err := e.actor(by)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, res, err := e.writeExceptions(ctx, func(tx *store.Tx) error {
				return tx.RevokeException(id, actor, strings.TrimSpace(reason), clock.Now())
			})
			if err != nil {
				if errors.Is(err, store.ErrNoException) {
					return fmt.Errorf("except revoke: no exception %s in %s", exceptions.Name(id), store.Shown(e.cfg.DB))
				}
				return fmt.Errorf("except revoke: %w", err)
			}
			defer st.Close()
			_, err = fmt.Fprintf(e.stdout, "%s revoked: %d %s no longer excepted\n", exceptions.Name(id), res.Returned,
				plural(res.Returned, "finding is", "findings are"))
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&reason, "reason", "", "why it ends")
	e.writerFlags(fl, &by, "who revokes it")
	return cmd
}

// activeExceptions reads the exceptions active today, by id, with their
// hosts and covered counts.
func activeExceptions(ctx context.Context, st *store.Store, today string) ([]exceptions.Exception, error) {
	all, err := st.Exceptions(ctx, store.ExceptionFilter{States: []string{exceptions.Active}})
	if err != nil {
		return nil, err
	}
	var out []exceptions.Exception
	for _, x := range all {
		if shownState(x, today) != exceptions.Active {
			continue
		}
		full, _, err := st.Exception(ctx, x.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	slices.SortFunc(out, func(a, b exceptions.Exception) int { return int(a.ID - b.ID) })
	return out, nil
}

func (e *env) exceptExportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the active exceptions as YAML, for review in git",
		Long: `Write every active exception as YAML, by id, each under a comment with the
findings it covers today and its hosts. Edit the file (new entries without
an id; until and reason of existing ones; remove an entry to revoke it),
have it reviewed, and apply it with qvt except import.`,
		Example: `  qvt except export > exceptions.yaml
  qvt except export -o exceptions.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			today := clock.Today()
			list, err := activeExceptions(ctx, st, today)
			if err != nil {
				return fmt.Errorf("except export: %w", err)
			}
			if out == "" || out == "-" {
				return exceptions.Encode(e.stdout, list, today)
			}
			// What is accepted on which hosts is an attacker's map, as the
			// findings are: owner only, as qvt export writes them.
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("except export: %w", err)
			}
			if err := exceptions.Encode(f, list, today); err != nil {
				f.Close()
				return fmt.Errorf("except export: %s: %w", out, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("except export: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func (e *env) exceptImportCommand() *cobra.Command {
	var dryRun bool
	var by string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Apply a reviewed exceptions file as the whole truth",
		Long: `Make the active exceptions what FILE says (qvt except export writes one):
an entry without an id is a new exception; an entry with an id may change
its until and reason (a changed type, scope, approver or start is refused);
an active exception the file lacks is revoked. The diff is printed first;
--dry-run stops there. Everything is applied in one transaction: an error
leaves the store as it was.`,
		Example: `  qvt except import exceptions.yaml --dry-run
  qvt except import exceptions.yaml --by "$(git log -1 --format=%ae exceptions.yaml)"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("except import: name one file (qvt except export writes one)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			in, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("except import: %w", err)
			}
			entries, err := exceptions.Decode(in, name)
			in.Close()
			if err != nil {
				return fmt.Errorf("except import: %w", err)
			}
			actor := ""
			if !dryRun {
				if actor, err = e.actor(by); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			today := clock.Today()
			// A real import holds the writer lock from the reading of the
			// active exceptions to the commit: the diff printed is the one
			// applied.
			var st *store.Store
			if dryRun {
				st, err = e.openStore(ctx)
			} else {
				st, err = e.openWriter(ctx, "")
			}
			if err != nil {
				return err
			}
			defer st.Close()
			active, err := activeExceptions(ctx, st, today)
			if err != nil {
				return fmt.Errorf("except import: %w", err)
			}
			changes, err := exceptions.Diff(active, entries, e.cfg.Exceptions, today, name)
			if err != nil {
				return fmt.Errorf("except import: %w", err)
			}
			e.writeDiff(changes)
			if dryRun {
				_, err = fmt.Fprintln(e.stdout, "dry run: nothing written")
				return err
			}
			res, err := e.applyExceptions(ctx, st, func(tx *store.Tx) error {
				now := clock.Now()
				for _, c := range changes {
					switch c.Op {
					case "add":
						x := &exceptions.Exception{Type: c.Entry.Type, Scope: c.Entry.Scope, Reason: c.Entry.Reason,
							Approver: c.Entry.Approver, RecordedBy: actor, Start: c.Entry.Start, Until: c.Entry.Until}
						if _, err := tx.AddException(x, now); err != nil {
							return fmt.Errorf("%s: entry %d: %w", name, c.Index, err)
						}
					case "edit":
						if err := tx.EditException(c.Old.ID, c.Until, c.Reason, actor, now); err != nil {
							return fmt.Errorf("%s: entry %d (%s): %w", name, c.Index, c.Old.Name(), err)
						}
					case "revoke":
						if err := tx.RevokeException(c.Old.ID, actor, "not in "+name, now); err != nil {
							return fmt.Errorf("%s: %s: %w", name, c.Old.Name(), err)
						}
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("except import: %w", err)
			}
			if _, err := fmt.Fprintf(e.stdout, "applied %d %s: %d %s excepted, %d no longer\n", len(changes), plural(len(changes), "change", "changes"),
				res.Excepted, plural(res.Excepted, "finding", "findings"), res.Returned); err != nil {
				return err
			}
			if slices.ContainsFunc(changes, func(c exceptions.Change) bool { return c.Op == "add" }) {
				// Imported again as it is, the file would add them twice.
				_, err = fmt.Fprintf(e.stdout, "new exceptions have ids now: run qvt except export -o %s before the next edit\n", name)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff and write nothing")
	e.writerFlags(cmd.Flags(), &by, "who applies the file")
	return cmd
}

func (e *env) writeDiff(changes []exceptions.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(e.stdout, "no change")
		return
	}
	for _, c := range changes {
		fmt.Fprintln(e.stdout, terminalSafe(c.String(), ""))
	}
}
