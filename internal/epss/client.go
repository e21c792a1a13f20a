package epss

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"qvt/internal/download"
)

// ClientConfig configures a Client. Zero fields take the defaults given.
// The file is public: there is no credential to configure.
type ClientConfig struct {
	URL string // default DefaultURL (EPSS_URL)
	// HTTP is the client to send requests with. The default honours
	// HTTPS_PROXY/NO_PROXY and follows the old host's redirect.
	HTTP           *http.Client
	ConnectTimeout time.Duration // default 30s
	ReadTimeout    time.Duration // longest silence before or within the response, then retried; default 2m
	MaxAttempts    int           // default 6
	BaseDelay      time.Duration // backoff: first ceiling, default 2s
	MaxDelay       time.Duration // backoff: largest ceiling, default 2m; each wait is drawn in [ceiling/2, ceiling] (retry.Backoff)
	ConnectBudget  time.Duration // how long an unreachable server is retried; default retry.DefaultConnectBudget (10s)
	MaxWait        time.Duration // the longest Retry-After slept, else the call fails; default retry.DefaultMaxWait (10m)
	BodyTimeout    time.Duration // the whole body's reads; default retry.DefaultBodyTimeout (30m)
	Limits         Limits
	Log            *slog.Logger // a line per retry (Info)
	// Sleep waits d or until ctx is done; injectable for tests.
	Sleep     func(ctx context.Context, d time.Duration) error
	UserAgent string // default "qvt/<version>"
}

// Client downloads the scores file. It is safe for concurrent use.
type Client struct {
	cfg download.Config
	lim Limits
}

// NewClient returns a client; a bad URL is reported by Fetch.
func NewClient(cfg ClientConfig) *Client {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	return &Client{lim: cfg.Limits, cfg: download.Config{
		Name: "epss", URL: cfg.URL, HTTP: cfg.HTTP, ConnectTimeout: cfg.ConnectTimeout, ReadTimeout: cfg.ReadTimeout,
		MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay, ConnectBudget: cfg.ConnectBudget,
		MaxWait: cfg.MaxWait, BodyTimeout: cfg.BodyTimeout, UserAgent: cfg.UserAgent, Log: cfg.Log, Sleep: cfg.Sleep,
	}.WithDefaults()}
}

// Fetch GETs the file and streams it through Decode to header and fn.
// Failed attempts are retried with backoff (429, 5xx, connection errors,
// silence, a body cut short), and a retried download delivers its header
// and rows again from the start: header marks the start, and what fn did
// before must be undone or be harmless to repeat (an upsert is). A file
// that is malformed or over the limits fails at once; an error returned
// by header or fn ends Fetch and is returned as it is.
func (c *Client) Fetch(ctx context.Context, header func(Header) error, fn func(Score) error) error {
	return download.Get(ctx, c.cfg, func(r io.Reader) error {
		err := decode(r, c.lim, header, fn)
		if ce, ok := err.(*callbackError); ok {
			return download.Permanent(ce.err)
		}
		return err
	})
}
