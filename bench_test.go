package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// benchApp wires the real service (no listener) on the given store.
func benchApp(b *testing.B, env map[string]string) http.Handler {
	b.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, origin.Generator{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	return a.handler
}

// benchStores are the configurations compared: the embedded store, Redis
// with and without the near cache, and (for GraphQL) gqlgen executing every
// operation instead of compiled plans.
func benchStores(b *testing.B) map[string]map[string]string {
	url, prefix := redistest.Shared(b)
	return map[string]map[string]string{
		"memory":         {"CACHE_TTL": "1h"},
		"redis":          {"CACHE_TTL": "1h", "REDIS_URL": url, "CACHE_KEY_PREFIX": prefix},
		"redis-no-near":  {"CACHE_TTL": "1h", "REDIS_URL": url, "CACHE_KEY_PREFIX": prefix, "NEAR_CACHE_TTL": "0"},
		"redis-no-plans": {"CACHE_TTL": "1h", "REDIS_URL": url, "CACHE_KEY_PREFIX": prefix, "COMPILED_PLANS": "false"},
	}
}

func serveOnce(b *testing.B, h http.Handler, newReq func() *http.Request, want string) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq())
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
		b.Fatalf("got %d %s; want 200 containing %s", rec.Code, rec.Body.String(), want)
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the service and not the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// benchQueries are a tagged entry (the generator tags "weather:paris"
// "weather") and an untagged one, so their hits compare side by side.
var benchQueries = map[string]string{"tagged": "weather:paris", "untagged": "weather-paris"}

func BenchmarkGraphQLHit(b *testing.B) {
	for name, env := range benchStores(b) {
		for kind, query := range benchQueries {
			b.Run(name+"/"+kind, func(b *testing.B) {
				body := `{"query":"{ data(query: \"` + query + `\") { source data cachedAt expiresInSeconds stale tags } }"}`
				h := benchApp(b, env)
				newReq := func() *http.Request {
					r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					return r
				}
				serveOnce(b, h, newReq, "source")
				serveOnce(b, h, newReq, "CACHE")
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, newReq())
				}
			})
		}
	}
}

func BenchmarkRESTHit(b *testing.B) {
	for name, env := range benchStores(b) {
		for kind, query := range benchQueries {
			b.Run(name+"/"+kind, func(b *testing.B) {
				h := benchApp(b, env)
				newReq := func() *http.Request { return httptest.NewRequest(http.MethodGet, "/data?query="+query, nil) }
				serveOnce(b, h, newReq, "source")
				serveOnce(b, h, newReq, `"cache"`)
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					h.ServeHTTP(w, newReq())
				}
			})
		}
	}
}
