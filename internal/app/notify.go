package app

import (
	"github.com/spf13/cobra"

	"qvt/internal/runs"
)

// notifyObserver is the notifiers of the configured channels, told of
// every finished run; nil when none is configured. sent, when not nil,
// hears each message's outcome per channel (for /metrics).
func (e *env) notifyObserver(sent func(channel string, err error)) runs.Observer { return nil }

func (e *env) notifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "notify",
		Short:  "Send notifications",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("no notification channel is built yet")
		},
	}
}
