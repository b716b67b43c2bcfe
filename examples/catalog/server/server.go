// Package server wires the catalog example: gqlgen's handler for the
// generated schema, the fieldcache extension in front of its resolvers, the
// origin behind them and the metrics of all three. It is a package of its
// own, not part of main, so that tests run the real thing in process.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/examples/catalog/graph"
	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/examples/catalog/resolvers"
	"github.com/gqlcache/gqlcache/fieldcache"
)

// ServerOptions configures NewServer. The zero value serves from an
// in-process cache with the admin API off.
type ServerOptions struct {
	// RedisURL, when set, stores the cache in Redis ("redis://host:6379/0"),
	// shared by every process pointing at it; else it lives in process.
	RedisURL string
	// AdminToken turns on the extension's admin API (invalidation), for
	// callers presenting it. Empty: off.
	AdminToken string
	// OriginLatency slows every origin call, to make the cache's effect
	// visible. Zero: none.
	OriginLatency time.Duration
	// Logger receives the cache's and the extension's logs. Nil: discarded.
	Logger *slog.Logger
	// CachePrefix starts every cache key. Default "catalog". Tests sharing
	// one Redis each take their own, so that no run sees another's entries.
	CachePrefix string
}

// The cache's settings. Fixed, as an example's should be: a team copying it
// tunes its own.
const (
	// memoryBytes bounds the in-process store when no Redis is given.
	memoryBytes = 64 << 20
	// redisBudget is how long a request waits for Redis before going on
	// without it: the cache must never be slower than the origin it saves.
	redisBudget = 100 * time.Millisecond
	// stale is how long past its maxAge an entry is still served while one
	// refresh runs, so that an expiring hot key does not stall its readers.
	stale = 30 * time.Second
	// resolverSlots bounds the cached fields' resolvers running at once in
	// this process. A cold page runs one per item that misses, all at once
	// (gqlgen resolves a list's items concurrently): the core's default of
	// 16, made for one database, would refuse most of a 100-item page as
	// busy. A backend with less room sets less.
	resolverSlots = 128
	// resolverQueueWait is how long a resolver waits for a slot before its
	// field fails as busy: a page's worth of queued resolvers, not the
	// core's 100ms.
	resolverQueueWait = 2 * time.Second
	// queryCacheSize is how many parsed queries gqlgen keeps.
	queryCacheSize = 1000
)

// NewServer returns the catalog's handler: /graphql, the playground at /
// and /metrics, and a function releasing the cache and its store, to call
// once the handler is no longer served.
func NewServer(o ServerOptions) (http.Handler, func(), error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// A registry of its own, not the global one, so that two servers in one
	// test process do not collide on their metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	org, err := origin.New(o.OriginLatency, reg)
	if err != nil {
		return nil, nil, err
	}

	var store cache.Store
	closeStore := func() {}
	if o.RedisURL != "" {
		rs, err := cache.OpenRedis(o.RedisURL, redisBudget)
		if err != nil {
			return nil, nil, fmt.Errorf("opening REDIS_URL: %w", err)
		}
		store, closeStore = rs, func() { _ = rs.Close() }
	} else {
		ms, err := cache.NewMemoryStore(memoryBytes)
		if err != nil {
			return nil, nil, err
		}
		store = ms
	}
	prefix := o.CachePrefix
	if prefix == "" {
		prefix = "catalog"
	}
	c, err := cache.New(store, cache.Options{
		Prefix: prefix, Stale: stale, Registerer: reg, Logger: logger,
		OriginMaxInflight: resolverSlots, OriginQueueWait: resolverQueueWait,
	})
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	cleanup := func() {
		// The cache first: it waits for the fills in flight, which write
		// to the store.
		c.Close()
		closeStore()
	}

	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Origin: org}})
	ext, err := fieldcache.New(es, graph.CacheFields(), c, fieldcache.Options{AdminToken: o.AdminToken, Registerer: reg, Logger: logger})
	if err != nil {
		cleanup()
		return nil, nil, err
	}

	srv := handler.New(es)
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	srv.Use(extension.Introspection{})
	srv.Use(ext)

	mux := http.NewServeMux()
	// ext.Handler sets the response's Cache-Control from the fields the
	// request resolved, so that a CDN or browser caches no longer than the
	// shortest maxAge and never a PRIVATE answer for others.
	mux.Handle("/graphql", withCustomer(ext.Handler(srv)))
	mux.Handle("GET /{$}", playground.Handler("Catalog", "/graphql"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux, cleanup, nil
}

// withCustomer names the customer, the Authorization header's bearer value,
// to the cart resolver. It is a stand-in for real authentication: the
// example trusts any token.
func withCustomer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if customer, ok := bearer(r.Header.Get("Authorization")); ok {
			r = r.WithContext(resolvers.WithCustomer(r.Context(), customer))
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
