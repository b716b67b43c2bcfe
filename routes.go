package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/fieldcache"
	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/plan"
	"github.com/gqlcache/gqlcache/internal/playground"
	"github.com/gqlcache/gqlcache/internal/rest"
	"github.com/gqlcache/gqlcache/internal/results"
	"github.com/gqlcache/gqlcache/resolvers"
)

// deps is everything the HTTP surface needs, built once by run.
type deps struct {
	cfg      config
	cache    *cache.Cache
	origin   origin.Origin
	fields   *fieldcache.Extension // answers the cached fields, through cache
	answers  *results.Counter      // each cached field's answers, per door
	registry *prometheus.Registry
	logger   *slog.Logger
	tracer   trace.TracerProvider // nil: no tracing
	drain    *drain
}

// newServer returns the whole HTTP surface, one line per endpoint.
func newServer(d deps) http.Handler {
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gqlcache", Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
	}, []string{"route", "code"})
	d.registry.MustRegister(latency)
	// What alerts compare resident memory with: the Go runtime's own metrics
	// know its soft limit, not the limit the kernel enforces.
	memLimit := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gqlcache", Name: "memory_limit_bytes",
		Help: "The memory limit of the process's cgroup, which the caches and the Go soft limit were sized from; 0 when there is none.",
	})
	memLimit.Set(float64(d.cfg.memoryLimit))
	d.registry.MustRegister(memLimit)
	route := func(name string, h http.Handler) http.Handler {
		h = instrument(latency.MustCurryWith(prometheus.Labels{"route": name}), h)
		if d.tracer != nil {
			// One span per GraphQL operation or REST request; the cache adds
			// what it did to it, and go-redis its commands beneath it.
			h = otelhttp.NewHandler(h, name, otelhttp.WithTracerProvider(d.tracer))
		}
		return h
	}

	gql := route("graphql", handleGraphQL(d))
	shim := rest.New(rest.Options{
		Cache:  d.cache,
		Origin: d.origin,
		Query: func(args map[string]any) (cache.Query, error) {
			return d.fields.Query(resolvers.DataField, args)
		},
		Stale:         d.cfg.stale,
		MaxQueryLen:   d.cfg.maxQueryLen,
		AdminToken:    d.cfg.adminToken,
		NaiveCachedAt: d.cfg.naiveCachedAt,
		Results:       d.answers,
	})

	mux := http.NewServeMux()
	mux.Handle("POST /graphql", gql)
	mux.Handle("GET /graphql", gql)
	mux.Handle("/graphql", gqlhttp.NotAllowed("GET, POST"))
	if d.cfg.introspection {
		pg := playground.Handler(playground.Options{
			Endpoint:  "/graphql",
			AssetsURL: d.cfg.playgroundAssetsURL,
			AssetsDir: d.cfg.playgroundAssetsDir,
		})
		// Every method reaches the playground, which answers those it does
		// not take with 405 and Allow: the page exists, whatever the method.
		mux.Handle("/{$}", pg)
		if d.cfg.playgroundAssetsDir != "" {
			mux.Handle(playground.AssetsPath, pg)
		}
	}
	mux.Handle("GET /data", route("data", shim.Get()))
	mux.Handle("DELETE /data", route("data_delete", shim.Delete()))
	mux.Handle("/data", rest.NotAllowed("GET, DELETE"))
	mux.Handle("GET /openapi.json", rest.OpenAPI())
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.cache, d.drain))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	mux.Handle("/", handleNotFound())
	facts := withRequestFacts(newRevalidationPolicy(d.cfg.clientRevalidation, d.cfg.adminToken, d.registry), mux)
	return withDrain(d.drain, withRequestID(withRecover(d.logger, withURLLimit(d.cfg.maxURLBytes, withCORS(d.cfg.corsOrigins, facts)))))
}

func handleGraphQL(d deps) http.Handler {
	rd := resolvers.Deps{Cache: d.cache, Origin: d.origin, Fields: d.fields, AdminToken: d.cfg.adminToken, Results: d.answers}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New(rd)})
	var plans gqlhttp.Compiler
	if d.cfg.plans {
		plans = plan.New(rd)
	}
	var persisted graphql.Cache[string]
	if d.cfg.apqTTL > 0 {
		persisted = d.cache.PersistedQueries(d.cfg.apqTTL)
	}
	return gqlhttp.New(es, gqlhttp.Options{
		Compiler:         plans,
		PersistedQueries: persisted,
		Documents:        d.cfg.documents,
		TrustedOnly:      d.cfg.trustedOnly,
		Limits:           d.cfg.limits,
		Introspection:    d.cfg.introspection,
		Suggestions:      !d.cfg.production,
		ErrorPresenter:   resolvers.PresentError,
		Extensions:       []graphql.HandlerExtension{d.fields},
		RecoverFunc: func(ctx context.Context, p any) error {
			id := requestID(ctx)
			d.logger.ErrorContext(ctx, "panic in resolver", "panic", p, "path", graphql.GetPath(ctx).String(), "request_id", id)
			gerr := httpapi.GraphQLError(httpapi.CodeInternal, "internal error")
			gerr.Extensions["request_id"] = id
			return gerr
		},
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz reports whether the service can serve and from what. A
// failing store leaves it ready but degraded: requests are still answered,
// from the origin, so taking every replica out of rotation would only turn
// a slower service into an outage. A draining replica is not ready: it is
// about to stop, and the balancer must send its requests elsewhere.
func handleReadyz(c *cache.Cache, d *drain) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		body := map[string]any{"status": "ready", "store": c.Describe(), "store_reachable": true, "origin_breaker": c.OriginBreaker()}
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

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, httpapi.CodeNotFound, "no such endpoint: see /graphql and /data")
	})
}
