package app

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"qvt/internal/gen"
)

func (e *env) demoCommand() *cobra.Command {
	var noServe bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try qvt without a Qualys account: load a generated data set and summarise it",
		Long: `Generate a realistic data set (a KnowledgeBase, NVD records and host
detections), load it into ./qvt-demo.db (or --db) and print the finding
summary. Then try: qvt --db qvt-demo.db export --status open --min-rating High`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.dbFlag == "" && e.getenv("QVT_DB") == "" {
				e.cfg.DB = "qvt-demo.db"
			}
			dir, err := os.MkdirTemp("", "qvt-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			d := gen.New(gen.Config{Seed: 1, QIDs: 2000, Hosts: 200, DetectionsPerHost: 30, CVEs: 4000})
			kb, hld, nvd, err := gen.WriteFiles(dir, d, true)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := e.loader().Files(ctx, st, []string{kb, hld, nvd})
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			fmt.Fprintf(e.stdout, "qvt demo: loaded %d KB entries, %d CVE records and %d hosts into %s\n",
				res.Vulns, res.CVEs, res.Hosts, e.cfg.DB)
			if err := e.printSummary(ctx, st); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "\nNext: qvt --db %s export --status open --min-rating High --format csv\n", e.cfg.DB)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noServe, "no-serve", false, "exit after the summary instead of serving the dashboard")
	return cmd
}
