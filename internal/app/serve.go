package app

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"qvt/internal/store"
	"qvt/internal/web"
)

func (e *env) serveCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard: overview, findings list, finding, host and QID pages",
		Long: `Serve the dashboard from the store: the overview (open findings by rating
and status, overdue and due within 7 days, new, fixed and reopened in the
last sync, open findings over time, remediation against the SLA, the top
QIDs and hosts), the findings list with its filters and downloads, the
pages of a finding, a host and a QID, the owners page, the exceptions
(list, page, audit trail, expiring soon), a JSON API under /api/,
/healthz and /metrics. It reads the store, so it can run beside qvt sync;
it shows each sync's results as soon as it commits. With a login, or on
loopback, it also adds, extends and revokes exceptions (forms protected
against cross-site request forgery; POST /api/exceptions… with the
bearer token), taking the store's writer lock for each.

It listens on 127.0.0.1:8080 unless --addr or web.addr (QVT_WEB_ADDR) says
otherwise, and refuses an address beyond loopback unless a login is set:
web.auth.user and web.auth.password (QVT_WEB_USER, QVT_WEB_PASSWORD) for
HTTP basic, or web.auth.token (QVT_WEB_TOKEN) for a bearer token, 12
characters or more. It answers requests for localhost, 127.0.0.1, [::1]
and the address it binds; the names people reach it by go in web.hosts
(QVT_WEB_HOSTS, comma separated), other names get 421 Misdirected Request.
With web.tls_cert and web.tls_key (QVT_WEB_TLS_CERT, QVT_WEB_TLS_KEY) it
serves HTTPS.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if addr != "" {
				e.cfg.Web.Addr = addr
			}
			return e.serve(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "host:port to listen on (default 127.0.0.1:8080)")
	return cmd
}

// serve runs the dashboard on the configured store until ctx ends.
func (e *env) serve(ctx context.Context) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := e.cfg.Web
	if cfg.JiraURL == "" {
		cfg.JiraURL = e.cfg.Jira.URL
	}
	cfg.SLADays = e.cfg.Policy().SLADays
	cfg.Environments = e.cfg.Environments
	cfg.Exceptions = e.cfg.Exceptions
	// The dashboard reads without the writer lock; it takes it for each
	// exception added, extended or revoked, as any writer does, and
	// applies the exceptions as the loader does (restart_sla).
	cfg.Lock = func(ctx context.Context) (store.WriteLock, error) {
		return store.LockWriter(ctx, e.cfg.DB, store.LockOptions{Command: "serve", Wait: true, Via: e.lockVia(e.cfg.DB)})
	}
	l := e.loader()
	cfg.Apply = func(tx *store.Tx) error {
		_, err := l.ApplyExceptions(tx)
		return err
	}
	srv, err := web.New(st, cfg, e.log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	return srv.ListenAndServe(ctx)
}
