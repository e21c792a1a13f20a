package kev

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"qvt/internal/download"
)

// ClientConfig configures a Client. Zero fields take the defaults given.
// The feed is public: there is no credential to configure.
type ClientConfig struct {
	URL string // default DefaultURL (KEV_URL)
	// HTTP is the client to send requests with. The default honours
	// HTTPS_PROXY/NO_PROXY and times out connecting after ConnectTimeout
	// and waiting for response headers after ReadTimeout.
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

// Client downloads the catalog. It is safe for concurrent use.
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
		Name: "kev", URL: cfg.URL, HTTP: cfg.HTTP, ConnectTimeout: cfg.ConnectTimeout, ReadTimeout: cfg.ReadTimeout,
		MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay, ConnectBudget: cfg.ConnectBudget,
		MaxWait: cfg.MaxWait, BodyTimeout: cfg.BodyTimeout, Accept: "application/json, text/csv;q=0.9, */*;q=0.1",
		UserAgent: cfg.UserAgent, Log: cfg.Log, Sleep: cfg.Sleep,
	}.WithDefaults()}
}

// Fetch GETs the feed and decodes it (JSON or CSV, by content). Failed
// attempts are retried with backoff (429, 5xx, connection errors, silence,
// a body cut short); a catalog that decodes but is malformed, or is over
// the limits, fails at once.
func (c *Client) Fetch(ctx context.Context) (*Catalog, error) {
	var cat *Catalog
	err := download.Get(ctx, c.cfg, func(r io.Reader) error {
		var err error
		cat, err = Decode(r, c.lim)
		return err
	})
	if err != nil {
		return nil, err
	}
	return cat, nil
}
