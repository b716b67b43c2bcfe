package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/rest"
	"github.com/gqlcache/gqlcache/resolvers"
)

// deps is everything the HTTP surface needs, built once by run.
type deps struct {
	cfg      config
	cache    *cache.Cache
	origin   origin.Origin
	policies *resolvers.Policies
	registry *prometheus.Registry
	logger   *slog.Logger
}

// newServer returns the whole HTTP surface, one line per endpoint.
func newServer(d deps) http.Handler {
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gqlcache", Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
	}, []string{"route", "code"})
	d.registry.MustRegister(latency)
	route := func(name string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerDuration(latency.MustCurryWith(prometheus.Labels{"route": name}), h)
	}

	gql := route("graphql", handleGraphQL(d))
	shim := rest.New(rest.Options{
		Cache:       d.cache,
		Origin:      d.origin,
		Field:       resolvers.DataField,
		Policy:      d.policies.For(resolvers.DataField),
		Stale:       d.cfg.stale,
		MaxQueryLen: d.cfg.maxQueryLen,
		AdminToken:  d.cfg.adminToken,
	})

	mux := http.NewServeMux()
	mux.Handle("POST /graphql", gql)
	mux.Handle("GET /graphql", gql)
	mux.Handle("GET /{$}", playground.Handler("gqlcache", "/graphql"))
	mux.Handle("GET /data", route("data", shim.Get()))
	mux.Handle("DELETE /data", route("data_delete", shim.Delete()))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.cache))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	return withRecover(d.logger, withRequestFacts(mux))
}

func handleGraphQL(d deps) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{
		Resolvers: resolvers.New(resolvers.Deps{
			Cache: d.cache, Origin: d.origin, Policies: d.policies, AdminToken: d.cfg.adminToken,
		}),
	}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(resolvers.PresentError)
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		d.logger.ErrorContext(ctx, "panic in resolver", "panic", p, "path", graphql.GetPath(ctx).String())
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": resolvers.CodeInternal}}
	})
	return srv
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz reports whether the service can serve and from what. A
// failing store leaves it ready but degraded: requests are still answered,
// from the origin, so taking every replica out of rotation would only turn
// a slower service into an outage.
func handleReadyz(c *cache.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		body := map[string]any{"status": "ready", "store": c.Describe(), "store_reachable": true}
		if err := c.Ready(ctx); err != nil {
			body["status"], body["store_reachable"] = "degraded", false
		}
		writeJSON(w, http.StatusOK, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// withRequestFacts puts what the cache needs to know about the caller into
// the request context, for both doors alike: the credential that keys
// private fields, and a client's request to revalidate.
func withRequestFacts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if cred := r.Header.Get("Authorization"); cred != "" {
			ctx = cache.WithCaller(ctx, cred)
		}
		if wantsRevalidation(r.Header.Values("Cache-Control")) {
			ctx = cache.WithRevalidate(ctx)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func wantsRevalidation(values []string) bool {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			if strings.EqualFold(d, "no-cache") || strings.EqualFold(d, "max-age=0") {
				return true
			}
		}
	}
	return false
}

// withRecover turns a panic outside the resolvers into a plain 500, logged
// with the request, instead of a dropped connection.
func withRecover(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.ErrorContext(r.Context(), "panic", "panic", p, "method", r.Method, "path", r.URL.Path)
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error", "code": resolvers.CodeInternal})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
