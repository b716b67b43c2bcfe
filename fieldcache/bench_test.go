package fieldcache_test

// Benchmarks of the extension on the catalog example, in process through
// gqlgen's handler: what a typed hit costs over the bare resolver, per
// store, and how many store round trips a list of 100 products costs cold
// and warm. Figures and the commands that produce them: BENCHMARKS.md,
// "Fields of any gqlgen schema (fieldcache)".
//
// Every identifier declared here starts with bench or Benchmark, so that
// it cannot collide with the package's other test files.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/examples/catalog/graph"
	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/examples/catalog/resolvers"
	"github.com/gqlcache/gqlcache/fieldcache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// benchRedis opens the shared Redis behind the behaviour tests' counting
// store, closed at the benchmark's end: every call it counts is one round
// trip. The wrapper still announces writes, so the near cache runs as it
// does unwrapped.
func benchRedis(b *testing.B) (cache.Store, *counting) {
	b.Helper()
	url, _ := redistest.Shared(b)
	rs, err := cache.OpenRedis(url, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rs.Close() })
	cs := &counting{tagged: rs}
	return &broadcasting{counting: cs, Broadcaster: rs}, cs
}

// benchServer is the catalog's gqlgen handler as examples/catalog/server
// wires it (POST, a parsed-query cache), with the extension in front when
// c is not nil.
func benchServer(b *testing.B, o *origin.Origin, c *cache.Cache) http.Handler {
	b.Helper()
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Origin: o}})
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if c == nil {
		return srv
	}
	ext, err := fieldcache.New(es, graph.CacheFields(), c, fieldcache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv.Use(ext)
	return ext.Handler(srv)
}

// benchOptions are the cache's options in the benchmarks: the example's
// stale window, and a store budget of 1s instead of 100ms. On two shared
// cores a cold page's 100 concurrent fills, or a neighbour's load, can
// hold a store call past the default slow-call limit (50ms), which opens
// the store's circuit breaker and turns every lookup into a miss: the
// benchmark would then measure the origin, not the cache.
func benchOptions(prefix string, nearTTL time.Duration) cache.Options {
	return cache.Options{Prefix: prefix, Stale: 30 * time.Second, NearTTL: nearTTL, StoreBudget: time.Second}
}

// benchCache is a cache on store under prefix, with the example's stale
// window, closed at the benchmark's end.
func benchCache(b *testing.B, store cache.Store, prefix string, nearTTL time.Duration) *cache.Cache {
	b.Helper()
	c, err := cache.New(store, benchOptions(prefix, nearTTL))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// benchPost runs one GraphQL POST through h and fails unless it answers
// 200 with data and no errors.
func benchPost(b *testing.B, h http.Handler, body string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out := rec.Body.Bytes(); rec.Code != http.StatusOK || !bytes.HasPrefix(out, []byte(`{"data":{`)) || bytes.Contains(out, []byte(`"errors"`)) {
		b.Fatalf("status %d: %s", rec.Code, out)
	}
}

// benchOriginCalls is how many calls the origin served for the fields the
// benchmarks' queries cache.
func benchOriginCalls(o *origin.Origin) int64 {
	return o.Calls(origin.FieldProduct) + o.Calls(origin.FieldProducts) + o.Calls(origin.FieldReviews)
}

func benchOrigin(b *testing.B) *origin.Origin {
	b.Helper()
	o, err := origin.New(0, nil)
	if err != nil {
		b.Fatal(err)
	}
	return o
}

const benchTypedQuery = `{"query":"{ product(id:\"7\") { id name category releasedAt reviews { id stars body } } }"}`

// BenchmarkTypedFieldHit answers one product and its reviews (two cached
// fields, typed values through the codec; no live price) from a warm
// cache, beside the same schema and resolvers without the extension
// (origin latency 0), so the difference is what a hit costs over the
// resolver. roundtrips/op counts store calls (Redis only).
func BenchmarkTypedFieldHit(b *testing.B) {
	for _, kind := range []string{"uncached", "memory", "redis", "redis+near"} {
		b.Run(kind, func(b *testing.B) {
			o := benchOrigin(b)
			var counted *counting
			var c *cache.Cache
			switch kind {
			case "memory":
				ms, err := cache.NewMemoryStore(64 << 20)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = ms.Close() })
				c = benchCache(b, ms, redistest.Prefix(b), 0)
			case "redis":
				var store cache.Store
				store, counted = benchRedis(b)
				c = benchCache(b, store, redistest.Prefix(b), 0)
			case "redis+near":
				var store cache.Store
				store, counted = benchRedis(b)
				c = benchCache(b, store, redistest.Prefix(b), time.Second)
			}
			h := benchServer(b, o, c)
			benchPost(b, h, benchTypedQuery) // fills the cache
			benchPost(b, h, benchTypedQuery) // and holds the near copies
			calls := benchOriginCalls(o)
			var trips int64
			if counted != nil {
				trips = counted.snapshot().total()
			}
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, h, benchTypedQuery)
			}
			if c != nil {
				if n := benchOriginCalls(o) - calls; n != 0 {
					b.Fatalf("%d origin calls during the hits", n)
				}
			}
			if counted != nil {
				b.ReportMetric(float64(counted.snapshot().total()-trips)/float64(b.N), "roundtrips/op")
			}
		})
	}
}

const benchPageQuery = `{"query":"{ products(first: 100) { reviews { stars } } }"}`

// BenchmarkProductsPage reads a page of 100 products and each one's
// reviews from Redis: store round trips per request (roundtrips/op) and
// time, cold (every iteration under a fresh prefix: every field a miss,
// origin latency 0), warm without the near cache, warm with it; and the
// same page without the extension (uncached, origin latency 0).
func BenchmarkProductsPage(b *testing.B) {
	b.Run("cold", func(b *testing.B) {
		o := benchOrigin(b)
		store, counted := benchRedis(b)
		var trips int64
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			c, err := cache.New(store, benchOptions(redistest.Prefix(b), 0))
			if err != nil {
				b.Fatal(err)
			}
			h := benchServer(b, o, c)
			before := counted.snapshot().total()
			b.StartTimer()
			benchPost(b, h, benchPageQuery)
			b.StopTimer()
			trips += counted.snapshot().total() - before
			c.Close() // waits for the fills still writing
			b.StartTimer()
		}
		b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
	})
	b.Run("uncached", func(b *testing.B) {
		h := benchServer(b, benchOrigin(b), nil)
		b.ReportAllocs()
		for b.Loop() {
			benchPost(b, h, benchPageQuery)
		}
	})
	for _, kind := range []string{"warm", "warm+near"} {
		b.Run(kind, func(b *testing.B) {
			o := benchOrigin(b)
			store, counted := benchRedis(b)
			var nearTTL time.Duration
			if kind == "warm+near" {
				nearTTL = time.Second
			}
			h := benchServer(b, o, benchCache(b, store, redistest.Prefix(b), nearTTL))
			benchPost(b, h, benchPageQuery)
			benchPost(b, h, benchPageQuery)
			calls, trips := benchOriginCalls(o), counted.snapshot().total()
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, h, benchPageQuery)
			}
			if n := benchOriginCalls(o) - calls; n != 0 {
				b.Fatalf("%d origin calls during the hits (products %d, reviews %d) in %d iterations", n, o.Calls(origin.FieldProducts), o.Calls(origin.FieldReviews), b.N)
			}
			b.ReportMetric(float64(counted.snapshot().total()-trips)/float64(b.N), "roundtrips/op")
		})
	}
}
