package app

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/gen"
)

func (e *env) genCommand() *cobra.Command {
	var cfg gen.Config
	var dir string
	var gz bool
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate realistic KB, host detection, NVD, KEV and EPSS files (for benchmarks and trials)",
		Long: `Write a generated, deterministic data set: kb.xml (a KnowledgeBase with
details=All), detections.xml (a host list detection response, with QDS and its
factors), nvdcve.json (an NVD 2.0 feed), known_exploited_vulnerabilities.json
(a CISA KEV catalog) and epss_scores-<date>.csv.gz (a FIRST EPSS file), shaped
like the real ones. The same seed and sizes always give the same bytes. The
built-in API double serves the same data.`,
		Example: `  qvt gen -o bench --hosts 5000 --detections 40 --qids 150000 --cves 400000`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("gen: name an output directory with -o")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			start := time.Now()
			d := gen.New(cfg)
			kb, hld, nvd, err := gen.WriteFiles(dir, d, gz)
			if err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			kevFile, epssFile, err := gen.WriteRiskFiles(dir, d)
			if err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			for _, p := range []string{kb, hld, nvd, kevFile, epssFile} {
				fi, err := os.Stat(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\t%d bytes\n", p, fi.Size())
			}
			fmt.Fprintf(e.stdout, "generated in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&dir, "output", "o", "", "directory to write the files to")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "seed: the same seed and sizes give the same data")
	countVar(fl, &cfg.Hosts, "hosts", 500, 1, "hosts")
	countVar(fl, &cfg.DetectionsPerHost, "detections", 40, 0, "mean detections per host")
	countVar(fl, &cfg.QIDs, "qids", 5000, 1, "KnowledgeBase entries")
	countVar(fl, &cfg.CVEs, "cves", 20000, 0, "NVD CVE records")
	fl.BoolVar(&gz, "gzip", false, "gzip the files")
	return cmd
}
