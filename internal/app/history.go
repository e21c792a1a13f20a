package app

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"qvt/internal/store"
	"qvt/internal/unixtime"
)

func (e *env) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history KEY",
		Short: "Show one finding's life, change by change",
		Long: `Show a finding's life: when it was found and first seen, each change of its
Qualys status, of its rating and deadline, of its priority and due date
with their cause (a KEV entry, an EPSS score, a rule), each change of
owner, each exception that came to cover it or ended (with who recorded
it), and when and why it closed (fixed, gone from a rescanned host, ignored, disabled). KEY is
the finding key <address>:<qid>:<port>.`,
		Example: `  qvt history 10.1.2.3:105936:443`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("history: name one finding key, e.g. 10.1.2.3:105936:443")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			lives, err := st.History(ctx, args[0])
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			if len(lives) == 0 {
				return fmt.Errorf("history: no finding %s in %s", args[0], store.Shown(e.cfg.DB))
			}
			for i, l := range lives {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				writeLife(e.stdout, l)
			}
			return nil
		},
	}
}

func writeLife(w interface{ Write([]byte) (int, error) }, l store.Life) {
	// Every text here comes from the store, so from files and servers:
	// shown, never acted on by the terminal.
	for _, p := range []*string{&l.Key, &l.Hostname, &l.Title, &l.Status, &l.Closed, &l.VulnScore, &l.BreachDate,
		&l.Priority, &l.Reason, &l.DueDate} {
		*p = terminalSafe(*p, "")
	}
	l.Changes = slices.Clone(l.Changes)
	for i := range l.Changes {
		c := &l.Changes[i]
		c.Event, c.Old, c.New = terminalSafe(c.Event, ""), terminalSafe(c.Old, ""), terminalSafe(c.New, "")
		c.Cause, c.Actor = terminalSafe(c.Cause, ""), terminalSafe(c.Actor, "")
	}
	var b strings.Builder
	t := func(x int64) string {
		if x == 0 {
			return "-"
		}
		return unixtime.Format(x)
	}
	title := l.Title
	if title == "" {
		title = "(QID not in the KnowledgeBase)"
	}
	fmt.Fprintf(&b, "%s  %s\n", l.Key, title)
	fmt.Fprintf(&b, "host %d %s\n", l.HostID, l.Hostname)
	state := l.Status
	if l.Closed != "" {
		state += ", closed: " + l.Closed
	} else {
		state += ", open"
	}
	fmt.Fprintf(&b, "now:        %s; rating %s; deadline %s; reopened %d times\n", state, l.VulnScore, orDash(l.BreachDate), l.TimesReopen)
	if l.Priority != "" {
		fmt.Fprintf(&b, "priority:   %s (%s); due %s\n", l.Priority, l.Reason, orDash(l.DueDate))
	}
	fmt.Fprintf(&b, "%s  first found by Qualys\n", t(l.FirstFound))
	fmt.Fprintf(&b, "%s  first seen by qvt\n", t(l.FirstSeen))
	for i := 0; i < len(l.Changes); i++ {
		c := l.Changes[i]
		switch c.Event {
		case "priority":
			// "added to KEV 2026-11-30: P3 → P1, due 2026-12-14": the due
			// date that changed with it joins the line.
			line := fmt.Sprintf("%s → %s", orDash(c.Old), orDash(c.New))
			if i+1 < len(l.Changes) && l.Changes[i+1].Event == "due" && l.Changes[i+1].At == c.At {
				i++
				line += ", due " + orDash(l.Changes[i].New)
			}
			fmt.Fprintf(&b, "%s  %s\n", t(c.At), withCause(c.Cause, line))
			continue
		case "due":
			fmt.Fprintf(&b, "%s  %s\n", t(c.At), withCause(c.Cause, "due "+orDash(c.Old)+" → "+orDash(c.New)))
			continue
		}
		switch c.Event {
		case "owner":
			fmt.Fprintf(&b, "%s  owner %s → %s\n", t(c.At), ownerName(c.Old), ownerName(c.New))
		case "exception":
			// New is the exception that covers the finding from then on
			// (its cause: type, approver, expiry), "" when none does (its
			// cause: why it ended).
			var line string
			switch {
			case c.New == "":
				line = "exception ended: " + cmp.Or(c.Cause, "no exception covers it")
				if c.Old != "" {
					line += " (" + c.Old + ")"
				}
			case c.Cause != "":
				line = fmt.Sprintf("exception %s (%s)", c.New, c.Cause)
			default:
				line = "exception " + c.New
			}
			if c.New != "" && c.Old != "" {
				line += ", was " + c.Old
			}
			if c.Actor != "" {
				line += " by " + c.Actor
			}
			fmt.Fprintf(&b, "%s  %s\n", t(c.At), line)
		case "closed":
			if c.New == "" {
				fmt.Fprintf(&b, "%s  open again (was closed: %s)\n", t(c.At), c.Old)
			} else {
				fmt.Fprintf(&b, "%s  closed: %s\n", t(c.At), c.New)
			}
		default:
			fmt.Fprintf(&b, "%s  %s %s → %s\n", t(c.At), c.Event, orDash(c.Old), orDash(c.New))
		}
	}
	fmt.Fprintf(&b, "%s  last seen by qvt (last found by Qualys %s)\n", t(l.LastSeen), t(l.LastFound))
	w.Write([]byte(b.String()))
}

// withCause puts a change's cause before it.
func withCause(cause, change string) string {
	if cause == "" {
		return change
	}
	return cause + ": " + change
}

// ownerName is an owner as history shows it: "(none)" for no owner.
func ownerName(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
