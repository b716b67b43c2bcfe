package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// The middleware newServer wraps around every route, from the outside in:
// request ids, panic recovery, the URL length limit, CORS, and the facts
// about the caller the cache needs; and the per-route instrumentation.

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
			"X-Apollo-Operation-Name", "Cache-Control", "Pragma", "X-Request-Id"},
		ExposedHeaders: []string{"Cache-Status", "Age", "ETag", "Cache-Tag", "X-Request-Id", "Retry-After"},
		MaxAge:         600,
	}).Handler(next)
}

// withRequestFacts puts what the cache needs to know about the caller into
// the request context, for both doors alike: the credential that keys
// private fields, and a client's request to revalidate when the policy
// honours it.
func withRequestFacts(policy *revalidationPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if cred := r.Header.Get("Authorization"); cred != "" {
			ctx = cache.WithCaller(ctx, cred)
		}
		if policy.honours(r) {
			ctx = cache.WithRevalidate(ctx)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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
				httpapi.Error{Message: "internal error", Code: httpapi.CodeInternal, RequestID: id}.Write(w)
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
			httpapi.WriteError(w, httpapi.CodeURITooLong, "the request URL is longer than "+strconv.Itoa(max)+" bytes")
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
