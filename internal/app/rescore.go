package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"qvt/internal/store"
)

func (e *env) rescoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rescore",
		Short: "Apply a changed scoring, environment or priority policy to the stored findings now",
		Long: `Rescore and re-prioritize the stored findings under the configuration's
scoring policy, environment policies and priority rules, without fetching
anything. Imports and syncs do this by themselves when a policy changed;
this command does it at once.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := e.openWriter(ctx, "")
			if err != nil {
				return err
			}
			defer st.Close()
			l := e.loader()
			var stats store.Stats
			err = st.Write(ctx, func(tx *store.Tx) error {
				if err := l.CheckPolicy(tx); err != nil {
					return err
				}
				if err := l.Rescore(tx); err != nil {
					return err
				}
				if _, err := l.ApplyExceptions(tx); err != nil {
					return err
				}
				stats = tx.Stats
				return nil
			})
			if err != nil {
				return fmt.Errorf("rescore: %w", err)
			}
			fmt.Fprintf(e.stdout, "rescored %d QID scores; %d findings changed rating, deadline, priority or due date\n", stats.Scored, stats.Rerated)
			return e.printSummary(ctx, st)
		},
	}
}
