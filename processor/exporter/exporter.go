// Package exporter serves the shards' status over HTTP: /metrics in
// Prometheus's text format and /healthz for a load balancer or a
// Kubernetes probe.
//
// The daemon runs one short-lived child per shard, so no child owns a
// stable port to serve metrics from; the progress table is already the
// state every child writes. So the exporter is a process of its own that
// reads the progress table (and the lease table) when scraped, with a
// short cache so that several scrapers or a fast scrape interval cost the
// database one query per cache period.
package exporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/promtext"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
	"github.com/rs/zerolog"
)

// Looker takes one look at the shards; *status.Reader is the one.
type Looker interface {
	Read(ctx context.Context) (status.Report, error)
}

// Exporter answers /metrics and /healthz from cached looks.
type Exporter struct {
	Looker Looker
	// Cache is how long a look serves; default 2s.
	Cache time.Duration
	// Timeout bounds one look; default 5s, so that a scrape (10s by
	// default in Prometheus) gets "up 0" rather than timing out.
	Timeout time.Duration
	// HasLeases: a lease table is configured, so its reachability is a
	// metric.
	HasLeases bool
	Log       zerolog.Logger

	mu   sync.Mutex // one look at a time; the others wait for it
	last look
}

type look struct {
	rep   status.Report
	err   error
	at    time.Time
	taken time.Duration
}

// Handler serves GET /metrics and GET /healthz (HEAD too).
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", e.metrics)
	mux.HandleFunc("GET /healthz", e.healthz)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "kinesis-cratedb exporter: /metrics (Prometheus text format), /healthz")
	})
	return mux
}

// current returns a look no older than Cache, taking a new one if needed.
func (e *Exporter) current(ctx context.Context) look {
	e.mu.Lock()
	defer e.mu.Unlock()
	cache := e.Cache
	if cache <= 0 {
		cache = 2 * time.Second
	}
	if !e.last.at.IsZero() && time.Since(e.last.at) < cache {
		return e.last
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// The look outlives a scraper that hangs up: the next one gets it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	start := time.Now()
	rep, err := e.Looker.Read(ctx)
	e.last = look{rep: rep, err: err, at: time.Now(), taken: time.Since(start)}
	if err != nil {
		e.Log.Warn().Err(err).Msg("cannot read the progress table")
	}
	return e.last
}

func (e *Exporter) metrics(w http.ResponseWriter, r *http.Request) {
	l := e.current(r.Context())
	var b bytes.Buffer
	if err := writeMetrics(&b, l, e.HasLeases); err != nil {
		e.Log.Error().Err(err).Msg("cannot write the metrics")
		http.Error(w, "cannot write the metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", promtext.ContentType)
	_, _ = w.Write(b.Bytes())
}

// healthz is 200 when the progress table can be read and no shard needs
// someone (stale, or behind with a threshold), else 503 with the reasons,
// one per line.
func (e *Exporter) healthz(w http.ResponseWriter, r *http.Request) {
	l := e.current(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if l.err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy: cannot read the progress table: %v\n", l.err)
		return
	}
	if alerts := l.rep.Alerts(); len(alerts) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, s := range alerts {
			fmt.Fprintf(w, "unhealthy: %s shard %s: %s\n", s.State, s.ID, s.Reason)
		}
		return
	}
	counts := map[status.State]int{}
	for _, s := range l.rep.Shards {
		counts[s.State]++
	}
	var parts []string
	for _, st := range []status.State{status.OK, status.Ended, status.NoProgress, status.NoLease} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	fmt.Fprintf(w, "ok: %d shards of %s (%s)\n", len(l.rep.Shards), l.rep.Target, strings.Join(parts, ", "))
}
