package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/gen"
	"qvt/internal/sim"
)

// simFlags size and shape the API double.
type simFlags struct {
	data        gen.Config
	concurrency int
	latency     time.Duration
	faults      sim.Faults
	cache       bool
}

func (f *simFlags) add(cmd *cobra.Command, hosts, qids, cves int) {
	fl := cmd.Flags()
	fl.Uint64Var(&f.data.Seed, "seed", 1, "data set seed")
	countVar(fl, &f.data.Hosts, "hosts", hosts, 1, "hosts in the data set")
	countVar(fl, &f.data.DetectionsPerHost, "detections", 30, 0, "mean detections per host")
	countVar(fl, &f.data.QIDs, "qids", qids, 1, "KnowledgeBase entries")
	countVar(fl, &f.data.CVEs, "cves", cves, 0, "NVD records")
	countVar(fl, &f.concurrency, "concurrency", 2, 1, "Qualys concurrency limit per API (X-Concurrency-Limit-Limit)")
	fl.DurationVar(&f.latency, "latency", 0, "delay before each response starts")
	fl.Float64Var(&f.faults.P503, "fault-503", 0, "share of calls answered 503")
	fl.Float64Var(&f.faults.P409, "fault-409", 0, "share of Qualys calls answered 409 (concurrency limit)")
	fl.Float64Var(&f.faults.PCut, "fault-cut", 0, "share of bodies cut off mid-stream")
	fl.Uint64Var(&f.faults.Seed, "fault-seed", 1, "seed of the faults")
	fl.BoolVar(&f.cache, "cache", false, "answer repeated requests from memory (benchmarks)")
	fl.MarkHidden("cache")
}

func (f *simFlags) config() sim.Config {
	return sim.Config{Data: f.data, Concurrency: f.concurrency, Latency: f.latency, Faults: f.faults, CacheBodies: f.cache}
}

func (e *env) simCommand() *cobra.Command {
	var f simFlags
	var addr string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the built-in double of the Qualys and NVD APIs and the KEV and EPSS feeds",
		Long: `Serve a local double of the Qualys VM API (KnowledgeBase, host list, host
list detection), the NVD CVE API 2.0, CISA's KEV feed and FIRST's EPSS
file on a generated data set, with Qualys' authentication, rate and
concurrency limits and, on request, faults. POST /_sim/advance moves its data one day on (fixes, reopens, new
hosts, KB changes, new CVEs) so incremental syncs have something to do;
GET /_sim/stats tells how many calls it served and the most it ran at once.`,
		Example: `  qvt sim --addr 127.0.0.1:8443 &
  export QUALYS_API_URL=http://127.0.0.1:8443 QUALYS_USERNAME=demo QUALYS_PASSWORD=demo
  export NVD_API_URL=http://127.0.0.1:8443/rest/json/cves/2.0
  export KEV_URL=http://127.0.0.1:8443/kev/known_exploited_vulnerabilities.json
  export EPSS_URL=http://127.0.0.1:8443/epss/epss_scores-current.csv.gz
  qvt sync && curl -X POST http://127.0.0.1:8443/_sim/advance && qvt sync`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := sim.New(f.config())
			mux := http.NewServeMux()
			mux.HandleFunc("POST /_sim/advance", func(w http.ResponseWriter, r *http.Request) {
				s.Advance()
				fmt.Fprintf(w, "epoch %d, now %s\n", s.Epoch(), s.Now().Format(time.RFC3339))
			})
			mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				max := map[string]int{}
				for _, api := range []string{sim.APIKB, sim.APIHostList, sim.APIDetections, sim.APINVD} {
					max[api] = s.MaxConcurrent(api)
				}
				json.NewEncoder(w).Encode(map[string]any{"epoch": s.Epoch(), "calls": len(s.Log()), "max_concurrent": max})
			})
			mux.Handle("/", s)
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(e.stdout, "Qualys, NVD, KEV and EPSS double on http://%s (user demo, password demo)\n", addr)
			fmt.Fprintf(e.stdout, "  export QUALYS_API_URL=http://%s QUALYS_USERNAME=demo QUALYS_PASSWORD=demo\n", addr)
			fmt.Fprintf(e.stdout, "  export NVD_API_URL=http://%s%s\n", addr, sim.PathNVD)
			fmt.Fprintf(e.stdout, "  export KEV_URL=http://%s%s EPSS_URL=http://%s%s\n", addr, sim.PathKEV, addr, sim.PathEPSS)
			errc := make(chan error, 1)
			go func() { errc <- srv.ListenAndServe() }()
			select {
			case err := <-errc:
				return fmt.Errorf("sim: %w", err)
			case <-cmd.Context().Done():
				return srv.Close()
			}
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8443", "address to listen on")
	f.add(cmd, 500, 5000, 20000)
	return cmd
}
