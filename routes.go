package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/playground"
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
	tracer   trace.TracerProvider // nil: no tracing
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
	mux.Handle("/graphql", gqlhttp.NotAllowed("GET, POST"))
	if d.cfg.introspection {
		pg := playground.Handler(playground.Options{
			Endpoint:  "/graphql",
			AssetsURL: d.cfg.playgroundAssetsURL,
			AssetsDir: d.cfg.playgroundAssetsDir,
		})
		mux.Handle("GET /{$}", pg)
		if d.cfg.playgroundAssetsDir != "" {
			mux.Handle("GET "+playground.AssetsPath, pg)
		}
	}
	mux.Handle("GET /data", route("data", shim.Get()))
	mux.Handle("DELETE /data", route("data_delete", shim.Delete()))
	mux.Handle("/data", rest.NotAllowed("GET, DELETE"))
	mux.Handle("GET /openapi.json", rest.OpenAPI())
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.cache))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{}))
	mux.Handle("/", handleNotFound())
	return withRequestID(withRecover(d.logger, withURLLimit(d.cfg.maxURLBytes, withCORS(d.cfg.corsOrigins, withRequestFacts(mux)))))
}

// withCORS lets browser apps on the configured origins call the service,
// with the headers its CSRF guard asks for and those its answers carry.
// No origins: no CORS headers, so only same-origin pages may read answers.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Authorization", "Apollo-Require-Preflight",
			"X-Apollo-Operation-Name", "Cache-Control", "X-Request-Id"},
		ExposedHeaders: []string{"Cache-Status", "Age", "ETag", "Cache-Tag", "X-Request-Id"},
		MaxAge:         600,
	}).Handler(next)
}

func handleGraphQL(d deps) http.Handler {
	res := resolvers.New(resolvers.Deps{
		Cache: d.cache, Origin: d.origin, Policies: d.policies, AdminToken: d.cfg.adminToken,
	})
	es := graph.NewExecutableSchema(graph.Config{Resolvers: res})
	var compile func(*graphql.OperationContext) gqlhttp.Plan
	if d.cfg.plans {
		compile = res.Compile
	}
	var persisted graphql.Cache[string]
	if d.cfg.apqTTL > 0 {
		persisted = d.cache.PersistedQueries(d.cfg.apqTTL)
	}
	return gqlhttp.New(es, gqlhttp.Options{
		Compile:          compile,
		PersistedQueries: persisted,
		Limits:           d.cfg.limits,
		Introspection:    d.cfg.introspection,
		Suggestions:      !d.cfg.production,
		ErrorPresenter:   resolvers.PresentError,
		RecoverFunc: func(ctx context.Context, p any) error {
			id := requestID(ctx)
			d.logger.ErrorContext(ctx, "panic in resolver", "panic", p, "path", graphql.GetPath(ctx).String(), "request_id", id)
			return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": resolvers.CodeInternal, "request_id": id}}
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

// instrument records each request's duration by status code. It does what
// promhttp.InstrumentHandlerDuration does with one allocation instead of
// four, on the hottest path there is.
func instrument(vec prometheus.ObserverVec, next http.Handler) http.Handler {
	obs := &observers{vec: vec}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.code >= 100 && sw.code < len(obs.codes) {
			obs.get(sw.code).Observe(time.Since(start).Seconds())
		}
	})
}

// observers keeps one series per status code, made when the code is first
// answered so that /metrics lists only codes that happened.
type observers struct {
	vec   prometheus.ObserverVec
	codes [600]atomic.Pointer[prometheus.Observer]
}

func (o *observers) get(code int) prometheus.Observer {
	if p := o.codes[code].Load(); p != nil {
		return *p
	}
	obs := o.vec.WithLabelValues(strconv.Itoa(code))
	o.codes[code].Store(&obs)
	return obs
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: see /graphql and /data", "code": "NOT_FOUND"})
	})
}

// withRecover turns a panic outside the resolvers into a generic 500 that
// names the request id, logged with the same id, instead of a dropped
// connection or a stack trace.
func withRecover(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				id := requestID(r.Context())
				logger.ErrorContext(r.Context(), "panic", "panic", p, "method", r.Method, "path", r.URL.Path, "request_id", id)
				writeJSON(w, http.StatusInternalServerError, map[string]string{
					"error": "internal error", "code": resolvers.CodeInternal, "request_id": id,
				})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withURLLimit refuses request targets longer than max bytes before any
// handler parses them (the header limit bounds the line as a whole).
func withURLLimit(max int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > max {
			writeJSON(w, http.StatusRequestURITooLong, map[string]string{
				"error": "the request URL is longer than " + strconv.Itoa(max) + " bytes", "code": "URI_TOO_LONG",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type requestIDKey struct{}

// withRequestID gives every request an id, echoed in X-Request-Id and
// carried by error responses and log lines, so a user's report of a failure
// finds its log line. A sane id from a proxy in front is kept.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// requestIDs are this process's random prefix and a counter: unique across
// processes and restarts without a random read per request.
var requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func init() {
	var b [6]byte
	_, _ = rand.Read(b[:])
	requestIDs.prefix = hex.EncodeToString(b[:]) + "-"
}

func newRequestID() string {
	var b [32]byte
	return string(strconv.AppendUint(append(b[:0], requestIDs.prefix...), requestIDs.n.Add(1), 36))
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
