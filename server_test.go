package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/gqlscalar"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

const fullSelection = `{ data(query: "weather:paris") { source data cachedAt expiresInSeconds stale } }`

// redisEnv points a service at the shared test Redis under a fresh prefix.
func redisEnv(t *testing.T, extra ...string) map[string]string {
	url, prefix := redistest.Shared(t)
	env := map[string]string{"REDIS_URL": url, "CACHE_KEY_PREFIX": prefix}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func TestOneEntryWhicheverDoorAndSpelling(t *testing.T) {
	env := redisEnv(t)
	s := startService(t, env)

	first := s.post(fullSelection, nil).field(t, "data")
	if first.Source != "DATABASE" || first.Stale == nil || *first.Stale || first.ExpiresInSeconds == nil || *first.ExpiresInSeconds != 5 {
		t.Fatalf("first request: got %+v; want DATABASE, not stale, 5 seconds left", first)
	}
	if _, err := time.Parse(gqlscalar.TimeLayout, first.CachedAt); err != nil || !strings.HasSuffix(first.CachedAt, "Z") {
		t.Errorf("cachedAt %q: want RFC 3339 in UTC with milliseconds (%v)", first.CachedAt, err)
	}

	spellings := []struct {
		name, query, field string
		vars               map[string]any
	}{
		{"alias", `{ paris: data(query: "weather:paris") { source cachedAt data } }`, "paris", nil},
		{"whitespace and operation name", "query Paris {\n\tdata( query :\"weather:paris\" ){source cachedAt data}\n}", "data", nil},
		{"variable", `query($q: String!) { data(query: $q) { source cachedAt data } }`, "data", map[string]any{"q": "weather:paris"}},
	}
	for _, sp := range spellings {
		got := s.post(sp.query, sp.vars).field(t, sp.field)
		if got.Source != "CACHE" || got.CachedAt != first.CachedAt || string(got.Data) != string(first.Data) {
			t.Errorf("%s: got %s at %s; want CACHE at %s", sp.name, got.Source, got.CachedAt, first.CachedAt)
		}
	}
	get, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?query="+url.QueryEscape(fullSelection), nil)
	get.Header.Set("Apollo-Require-Preflight", "true")
	if got := s.doGQL(get).field(t, "data"); got.Source != "CACHE" || got.CachedAt != first.CachedAt {
		t.Errorf("GraphQL over GET: got %s at %s; want CACHE at %s", got.Source, got.CachedAt, first.CachedAt)
	}
	r := s.rest(http.MethodGet, q("weather:paris"))
	if r.status != http.StatusOK || r.body.Source != "cache" || !sameInstant(r.body.CachedAt, first.CachedAt) || string(r.body.Data) != string(first.Data) {
		t.Errorf("GET /data: got %d %s; want the same entry from the cache, cached at %s", r.status, r.raw, first.CachedAt)
	}
	if n := s.metric("gqlcache_origin_fetches_total"); n != 1 {
		t.Errorf("origin fetches = %v; want 1 for all of these", n)
	}

	// The other way round: REST warms GraphQL.
	if r := s.rest(http.MethodGet, q("weather:london")); r.body.Source != "database" {
		t.Errorf("GET /data for a new query: source %q; want database", r.body.Source)
	}
	if got := s.post(`{ data(query: "weather:london") { source } }`, nil).field(t, "data"); got.Source != "CACHE" {
		t.Errorf("GraphQL after REST: source %s; want CACHE", got.Source)
	}

	// The entries and the index of their tag ("weather") are in Redis under
	// the configured prefix, each expiring: the index a second after its
	// longest entry.
	opt, _ := redis.ParseURL(env["REDIS_URL"])
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, env["CACHE_KEY_PREFIX"]+":v2:*").Result() // the test's own prefix only
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys under the prefix: %v, %v; want the two entries and one tag index", keys, err)
	}
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 6*time.Second {
			t.Errorf("%s expires in %v; want within the 5s TTL (and a second for the index)", k, ttl)
		}
	}
}

func TestRESTShapeAndHeaders(t *testing.T) {
	s := startService(t, redisEnv(t))
	first := s.rest(http.MethodGet, q("x"))
	if first.status != http.StatusOK || first.body.Source != "database" || first.body.ExpiresInSeconds == nil || *first.body.ExpiresInSeconds != 5 {
		t.Fatalf("first: got %d %s; want 200, database, 5 seconds", first.status, first.raw)
	}
	var shape map[string]any
	_ = json.Unmarshal([]byte(first.raw), &shape)
	if len(shape) != 4 {
		t.Errorf("body has fields %v; want exactly source, data, cached_at, expires_in_seconds", shape)
	}
	if got := first.header.Get("Cache-Control"); got != "public, max-age=5" {
		t.Errorf("Cache-Control = %q; want public, max-age=5", got)
	}
	if got := first.header.Get("Cache-Status"); got != "gqlcache; fwd=uri-miss; stored" {
		t.Errorf("Cache-Status = %q on a miss; want gqlcache; fwd=uri-miss; stored", got)
	}
	if got := first.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", got)
	}
	etag := first.header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("ETag = %q; want a weak validator", etag)
	}
	hit := s.rest(http.MethodGet, q("x"))
	if hit.body.Source != "cache" || hit.header.Get("ETag") != etag || hit.header.Get("Age") == "" {
		t.Errorf("hit: got %s with ETag %q Age %q; want cache, the same ETag and an Age", hit.body.Source, hit.header.Get("ETag"), hit.header.Get("Age"))
	}
	if got := hit.header.Get("Cache-Status"); !strings.HasPrefix(got, "gqlcache; hit; ttl=") {
		t.Errorf("Cache-Status = %q on a hit; want gqlcache; hit; ttl=N", got)
	}
	nm := s.rest(http.MethodGet, q("x"), "If-None-Match", etag)
	if nm.status != http.StatusNotModified || nm.raw != "" || nm.header.Get("ETag") != etag {
		t.Errorf("If-None-Match with the current ETag: got %d %q; want 304 with no body", nm.status, nm.raw)
	}
	if other := s.rest(http.MethodGet, q("x"), "If-None-Match", `W/"other"`); other.status != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: got %d; want 200", other.status)
	}
}

// sameInstant reports whether two RFC 3339 timestamps, such as GraphQL's
// cachedAt and REST's cached_at, name the same instant.
func sameInstant(a, b string) bool {
	ta, erra := time.Parse(time.RFC3339Nano, a)
	tb, errb := time.Parse(time.RFC3339Nano, b)
	return erra == nil && errb == nil && ta.Equal(tb)
}

func TestRESTRefusesBadParameters(t *testing.T) {
	s := startService(t, nil)
	for _, tc := range []struct{ name, rawQuery string }{
		{"repeated query", "query=a&query=b"},
		{"malformed escape", "query=%zz"},
		{"malformed escape elsewhere", "foo=%zz"},
		{"semicolon", "query=a;b"},
		{"invalid UTF-8", "query=%ff%fe"},
		{"invalid UTF-8 elsewhere", "foo=%ff%fe"},
		{"too long", q(strings.Repeat("x", 4097))},
		{"others too long together", "a=" + strings.Repeat("x", 2048) + "&b=" + strings.Repeat("x", 2048)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.rest(http.MethodGet, tc.rawQuery)
			if r.status != http.StatusBadRequest || r.body.Code != "BAD_REQUEST" || r.body.Error == "" {
				t.Errorf("got %d %s; want 400 with a JSON error", r.status, r.raw)
			}
		})
	}
	if n := s.metric("gqlcache_origin_fetches_total"); n != 0 {
		t.Errorf("origin fetches = %v; want 0 for refused requests", n)
	}
	if r := s.rest(http.MethodGet, q(strings.Repeat("x", 4096))); r.status != http.StatusOK {
		t.Errorf("a 4096-byte query: got %d; want 200", r.status)
	}
}

func TestTTLExpiryOnMemoryStore(t *testing.T) {
	s := startService(t, map[string]string{"CACHE_TTL": "300ms"})
	first := s.post(fullSelection, nil).field(t, "data")
	second := s.post(fullSelection, nil).field(t, "data")
	if first.Source != "DATABASE" || second.Source != "CACHE" || second.CachedAt != first.CachedAt {
		t.Fatalf("got %s then %s at %s, %s; want DATABASE then CACHE with one cachedAt", first.Source, second.Source, first.CachedAt, second.CachedAt)
	}
	if *second.ExpiresInSeconds != 1 {
		t.Errorf("expiresInSeconds = %d with 300ms left at most; want 1 (rounded up)", *second.ExpiresInSeconds)
	}
	time.Sleep(350 * time.Millisecond)
	third := s.post(fullSelection, nil).field(t, "data")
	if third.Source != "DATABASE" || third.CachedAt == first.CachedAt {
		t.Errorf("after the TTL: got %s at %s; want DATABASE with a new cachedAt", third.Source, third.CachedAt)
	}
	_, ready := s.get("/readyz")
	if !strings.Contains(ready, `"store":"memory`) {
		t.Errorf("/readyz = %s; want the memory store named", ready)
	}
}

func TestExpiresInCountsDown(t *testing.T) {
	s := startService(t, map[string]string{"CACHE_TTL": "2s"})
	s.post(fullSelection, nil)
	time.Sleep(1100 * time.Millisecond)
	if got := s.post(fullSelection, nil).field(t, "data"); got.Source != "CACHE" || *got.ExpiresInSeconds != 1 {
		t.Errorf("1.1s into a 2s TTL: got %s with %d seconds; want CACHE with 1", got.Source, *got.ExpiresInSeconds)
	}
}

func TestSecondProcessAnswersFromSharedRedis(t *testing.T) {
	env := redisEnv(t)
	a, b := startProcess(t, env), startProcess(t, env)
	first := a.post(fullSelection, nil).field(t, "data")
	got := b.post(fullSelection, nil).field(t, "data")
	if first.Source != "DATABASE" || got.Source != "CACHE" || got.CachedAt != first.CachedAt {
		t.Errorf("got %s from the first process, %s at %s from the second; want DATABASE then CACHE with one cachedAt", first.Source, got.Source, got.CachedAt)
	}
}

// burstRedisTimeout is REDIS_TIMEOUT for the bursts below, which are about
// coalescing, not the store budget: a burst of 100 or 200 requests at once
// on a cold connection pool, under the race detector, on a machine shared
// with other builds, takes up to a few hundred milliseconds to get its
// connections (a few tens without the race detector), and a request whose
// budget is spent fetches by itself.
const burstRedisTimeout = "1s"

func TestBurstOfMissesOverHTTP(t *testing.T) {
	s := startService(t, redisEnv(t, "ORIGIN_DELAY", "200ms", "REDIS_TIMEOUT", burstRedisTimeout))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 200 {
		wg.Go(func() {
			r := s.rest(http.MethodGet, q("burst"))
			if r.status != http.StatusOK {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 200 requests failed; want none", n)
	}
	if n := s.metric("gqlcache_origin_fetches_total"); n != 1 {
		t.Errorf("origin fetches = %v; want 1", n)
	}
}

func TestThreeProcessesOneOriginFetch(t *testing.T) {
	env := redisEnv(t, "ORIGIN_DELAY", "300ms", "REDIS_TIMEOUT", burstRedisTimeout)
	procs := []*service{startProcess(t, env), startProcess(t, env), startProcess(t, env)}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, p := range procs {
		for range 100 {
			wg.Go(func() {
				if r := p.rest(http.MethodGet, q("shared-burst")); r.status != http.StatusOK {
					failed.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of 300 requests failed; want none", n)
	}
	var fetches float64
	for _, p := range procs {
		fetches += p.metric("gqlcache_origin_fetches_total")
	}
	if fetches != 1 {
		t.Errorf("origin fetches across three processes = %v; want 1", fetches)
	}
}

func TestRedisKilledMidRun(t *testing.T) {
	srv := redistest.Start(t)
	s := startService(t, map[string]string{
		"REDIS_URL": srv.URL(), "CACHE_KEY_PREFIX": redistest.Prefix(t), "REDIS_TIMEOUT": "100ms",
	})
	const total, workers = 3000, 8
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for sent.Add(1) <= total {
				if r := s.rest(http.MethodGet, q("resilient")); r.status != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	for sent.Load() < total/4 {
		time.Sleep(time.Millisecond)
	}
	srv.Kill()
	for sent.Load() < total/2 {
		time.Sleep(time.Millisecond)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across the outage; want none", n, total)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.rest(http.MethodGet, q("resilient")).body.Source != "cache" {
		if time.Now().After(deadline) {
			t.Fatal("no cache hit within 10s of Redis coming back; want hits to resume without a restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReadinessShowsRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	s := startService(t, map[string]string{"REDIS_URL": srv.URL(), "CACHE_KEY_PREFIX": "ready", "REDIS_TIMEOUT": "100ms"})
	if code, body := s.get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"store_reachable":true`) || !strings.Contains(body, srv.Addr()) {
		t.Errorf("/readyz with Redis up = %d %s; want ready naming %s", code, body, srv.Addr())
	}
	srv.Kill()
	if code, body := s.get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("/readyz with Redis down = %d %s; want 200 degraded (requests are still answered)", code, body)
	}
	if code, body := s.get("/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %s; want 200 ok", code, body)
	}
}

// TestSlowRedisOpensTheStoreBreaker stands the service on a Redis that
// answers every call 40 ms late: within REDIS_TIMEOUT, so nothing fails, but
// past REDIS_SLOW_CALL, so the store breaker opens (with the default
// REDIS_SLOW_CALL, half of REDIS_TIMEOUT, it would not). Hits come eight at
// a time, so that the breaker's one-second window holds enough calls to
// judge by on a busy machine too.
func TestSlowRedisOpensTheStoreBreaker(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.Delayed(t, srv.Addr(), 40*time.Millisecond)
	s := startService(t, map[string]string{"REDIS_URL": proxy.URL(), "CACHE_KEY_PREFIX": "slow",
		"REDIS_TIMEOUT": "2s", "REDIS_SLOW_CALL": "20ms", "NEAR_CACHE_TTL": "0s"}) // every hit a Redis call
	deadline := time.Now().Add(20 * time.Second)
	for s.metric("gqlcache_store_breaker_open") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("gqlcache_store_breaker_open still 0 after 20s of hits each 40ms late; want 1 (slow calls %v)",
				s.metric("gqlcache_store_slow_calls_total"))
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if r := s.rest(http.MethodGet, q("weather:paris")); r.status != http.StatusOK {
					t.Errorf("GET /data on a slow Redis: got %d %s; want 200", r.status, r.raw)
				}
			})
		}
		wg.Wait()
	}
	if got := s.metric("gqlcache_store_errors_total"); got != 0 {
		t.Errorf("gqlcache_store_errors_total = %v; want 0 (Redis was slow, never failing)", got)
	}
}

func TestOriginFailuresAreClearErrors(t *testing.T) {
	down := errorOrigin{errors.New("dial tcp 10.0.0.7:5432: connection refused")}
	s := startWithOrigin(t, nil, down)
	r := s.post(fullSelection, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "ORIGIN_UNAVAILABLE" {
		t.Fatalf("GraphQL with the origin down: got %s; want one error with code ORIGIN_UNAVAILABLE", r.raw)
	}
	rr := s.rest(http.MethodGet, q("weather:paris"))
	if rr.status != http.StatusBadGateway || rr.body.Code != "ORIGIN_UNAVAILABLE" {
		t.Errorf("REST with the origin down: got %d %s; want 502 ORIGIN_UNAVAILABLE", rr.status, rr.raw)
	}
	for _, body := range []string{r.raw, rr.raw} {
		if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "refused") {
			t.Errorf("error body leaks the origin's error: %s", body)
		}
	}

	slow := startService(t, map[string]string{"ORIGIN_DELAY": "5s", "ORIGIN_TIMEOUT": "50ms"})
	r = slow.post(fullSelection, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "ORIGIN_TIMEOUT" {
		t.Errorf("GraphQL with a slow origin: got %s; want code ORIGIN_TIMEOUT", r.raw)
	}
	if rr := slow.rest(http.MethodGet, q("slow")); rr.status != http.StatusGatewayTimeout || rr.body.Code != "ORIGIN_TIMEOUT" {
		t.Errorf("REST with a slow origin: got %d %s; want 504 ORIGIN_TIMEOUT", rr.status, rr.raw)
	}
}

type errorOrigin struct{ err error }

func (o errorOrigin) Fetch(context.Context, origin.Request) (cache.Fetched, error) {
	return cache.Fetched{}, o.err
}

func TestStaleServedWhileOriginDown(t *testing.T) {
	flaky := &switchOrigin{}
	s := startWithOrigin(t, redisEnv(t, "CACHE_TTL", "200ms", "CACHE_STALE", "1m"), flaky)
	first := s.post(fullSelection, nil).field(t, "data")
	time.Sleep(250 * time.Millisecond)
	flaky.down.Store(true)
	got := s.post(fullSelection, nil).field(t, "data")
	if !*got.Stale || got.Source != "CACHE" || got.CachedAt != first.CachedAt || *got.ExpiresInSeconds != 0 {
		t.Errorf("origin down, stale copy present: got %+v; want the stale copy with 0 seconds", got)
	}
	r := s.rest(http.MethodGet, q("weather:paris"))
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("Cache-Status"), "ttl=-") {
		t.Errorf("REST, stale: got %d Cache-Status %q; want 200 and a negative ttl", r.status, r.header.Get("Cache-Status"))
	}
	if got, want := r.header.Get("Cache-Control"), "public, max-age=1, stale-while-revalidate=60, stale-if-error=60"; got != want {
		t.Errorf("REST, stale: Cache-Control %q; want %q", got, want)
	}
}

type switchOrigin struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (o *switchOrigin) Fetch(ctx context.Context, req origin.Request) (cache.Fetched, error) {
	o.calls.Add(1)
	if o.down.Load() {
		return cache.Fetched{}, errors.New("down")
	}
	return cache.Fetched{Data: []byte(`"fresh ` + time.Now().Format(time.RFC3339Nano) + `"`)}, nil
}

func TestInvalidateNeedsTheAdminToken(t *testing.T) {
	s := startService(t, redisEnv(t, "ADMIN_TOKEN", "s3cret"))
	first := s.post(fullSelection, nil).field(t, "data")
	const mutation = `mutation { invalidate(query: "weather:paris") }`

	r := s.post(mutation, nil, "Authorization", "Bearer wrong")
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("invalidate with a wrong token: got %s; want FORBIDDEN", r.raw)
	}
	if rr := s.rest(http.MethodDelete, q("weather:paris")); rr.status != http.StatusUnauthorized || rr.header.Get("WWW-Authenticate") == "" {
		t.Errorf("DELETE without a token: got %d %s; want 401 with WWW-Authenticate", rr.status, rr.raw)
	}
	if got := s.post(fullSelection, nil).field(t, "data"); got.Source != "CACHE" || got.CachedAt != first.CachedAt {
		t.Fatalf("after refused invalidations: got %s; want the entry untouched", got.Source)
	}

	r = s.post(mutation, nil, "Authorization", "Bearer s3cret")
	if string(r.Data["invalidate"]) != "true" {
		t.Fatalf("invalidate with the token: got %s; want true", r.raw)
	}
	if got := s.post(fullSelection, nil).field(t, "data"); got.Source != "DATABASE" {
		t.Errorf("after invalidate: got %s; want DATABASE", got.Source)
	}
	rr := s.rest(http.MethodDelete, q("weather:paris"), "Authorization", "Bearer s3cret")
	if rr.status != http.StatusOK || !strings.Contains(rr.raw, `"invalidated":true`) {
		t.Errorf("DELETE with the token: got %d %s; want 200 invalidated true", rr.status, rr.raw)
	}
	if got := s.rest(http.MethodGet, q("weather:paris")); got.body.Source != "database" {
		t.Errorf("after DELETE: got %s; want database", got.body.Source)
	}
	get, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?query="+url.QueryEscape(mutation), nil)
	get.Header.Set("Authorization", "Bearer s3cret")
	get.Header.Set("Apollo-Require-Preflight", "true")
	if r := s.doGQL(get); r.status < 400 || r.status >= 500 || len(r.Errors) == 0 {
		t.Errorf("mutation over GET: got %d %s; want a 4xx refusal", r.status, r.raw)
	}
}

func TestInvalidateIsOffWithoutAToken(t *testing.T) {
	s := startService(t, nil)
	r := s.post(`mutation { invalidate(query: "x") }`, nil, "Authorization", "Bearer ")
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("invalidate with no ADMIN_TOKEN configured: got %s; want FORBIDDEN", r.raw)
	}
}

func TestPrivateScopeOverHTTP(t *testing.T) {
	s := startService(t, redisEnv(t, "CACHE_SCOPE", "private"))
	alice, bob := []string{"Authorization", "Bearer alice"}, []string{"Authorization", "Bearer bob"}
	if got := s.post(fullSelection, nil, alice...).field(t, "data"); got.Source != "DATABASE" {
		t.Errorf("alice first: %s; want DATABASE", got.Source)
	}
	if got := s.post(fullSelection, nil, alice...).field(t, "data"); got.Source != "CACHE" {
		t.Errorf("alice again: %s; want CACHE", got.Source)
	}
	if got := s.post(fullSelection, nil, bob...).field(t, "data"); got.Source != "DATABASE" {
		t.Errorf("bob after alice: %s; want DATABASE (never alice's entry)", got.Source)
	}
	r := s.rest(http.MethodGet, q("weather:paris"), alice...)
	if r.body.Source != "cache" || r.header.Get("Cache-Control") != "private, max-age=5" {
		t.Errorf("alice over REST: got %s with Cache-Control %q; want cache, private, max-age=5", r.body.Source, r.header.Get("Cache-Control"))
	}
	for range 2 {
		r := s.rest(http.MethodGet, q("weather:paris"))
		if r.body.Source != "database" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("no credential: got %s with Cache-Control %q; want database, no-store", r.body.Source, r.header.Get("Cache-Control"))
		}
	}
}

func TestGraphQLRequestErrorsAreNot500(t *testing.T) {
	s := startService(t, nil)
	for _, tc := range []struct{ name, query string }{
		{"syntax error", `{ data(query: "x") { source `},
		{"unknown field", `{ nope }`},
		{"missing argument", `{ data { source } }`},
		{"wrong argument type", `{ data(query: 5) { source } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(tc.query, nil)
			if r.status >= 500 || len(r.Errors) == 0 {
				t.Errorf("got %d %s; want a GraphQL error below 500", r.status, r.raw)
			}
		})
	}
}

func TestMetricsExposed(t *testing.T) {
	s := startService(t, nil)
	s.post(fullSelection, nil)
	s.post(fullSelection, nil)
	_, body := s.get("/metrics")
	for _, name := range []string{
		"gqlcache_cache_hits_total 1", "gqlcache_cache_misses_total 1", "gqlcache_origin_fetches_total 1",
		"gqlcache_origin_fetch_duration_seconds_bucket", "gqlcache_http_request_duration_seconds_bucket",
		"gqlcache_store_breaker_open 0", "go_goroutines",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}

func TestPlaygroundServed(t *testing.T) {
	s := startService(t, nil)
	code, body := s.get("/")
	if code != http.StatusOK || !strings.Contains(body, "graphiql") || !strings.Contains(body, "/graphql") {
		t.Errorf("GET / = %d; want the GraphiQL page pointing at /graphql", code)
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := startService(t, nil)
	if code, body := s.get("/openapi.json"); code != http.StatusOK || !strings.Contains(body, `"openapi": "3.1.1"`) {
		t.Errorf("GET /openapi.json = %d; want the OpenAPI 3.1 document", code)
	}
}

func TestInvalidationReachesAnotherProcess(t *testing.T) {
	// A near-cache hold of a minute: only the announcement can make the
	// second process see the invalidation promptly.
	env := redisEnv(t, "ADMIN_TOKEN", "s3cret", "NEAR_CACHE_TTL", "1m", "CACHE_TTL", "1h")
	a, b := startProcess(t, env), startProcess(t, env)
	first := a.rest(http.MethodGet, q("shared"))
	for range 2 { // the second read comes from b's near cache
		if r := b.rest(http.MethodGet, q("shared")); r.body.CachedAt != first.body.CachedAt {
			t.Fatalf("b: got %s; want a's entry", r.raw)
		}
	}
	if r := a.rest(http.MethodDelete, q("shared"), "Authorization", "Bearer s3cret"); r.status != http.StatusOK {
		t.Fatalf("DELETE on a: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.rest(http.MethodGet, q("shared")).body.CachedAt == first.body.CachedAt {
		if time.Now().After(deadline) {
			t.Fatal("b still serves the invalidated entry 2s after a's DELETE; want the announcement to drop it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := b.metric("gqlcache_cache_near_hits_total"); n < 1 {
		t.Errorf("b's near hits = %v; want its reads served from the near cache before the invalidation", n)
	}
}

func TestHTTPOriginEndToEnd(t *testing.T) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasSuffix(r.URL.Path, "/broken") {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=2")
		_, _ = w.Write([]byte(`{"city":"` + strings.TrimPrefix(r.URL.Path, "/weather/") + `","celsius":12.5}`))
	}))
	defer up.Close()
	s := startService(t, redisEnv(t, "ORIGIN_URL", up.URL+"/weather/{query}"))

	first := s.post(`{ data(query: "paris") { source data expiresInSeconds } }`, nil).field(t, "data")
	if first.Source != "DATABASE" || string(first.Data) != `{"city":"paris","celsius":12.5}` || *first.ExpiresInSeconds != 2 {
		t.Errorf("first: got %s %s %d; want the upstream's JSON, fresh for its max-age of 2s", first.Source, first.Data, *first.ExpiresInSeconds)
	}
	if r := s.rest(http.MethodGet, q("paris")); r.body.Source != "cache" || r.header.Get("Cache-Control") != "public, max-age=2" {
		t.Errorf("REST after GraphQL: got %s with %q; want the cached entry, max-age=2", r.body.Source, r.header.Get("Cache-Control"))
	}
	if r := s.post(`{ data(query: "broken") { source } }`, nil); len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "ORIGIN_UNAVAILABLE" {
		t.Errorf("upstream 503: got %s; want ORIGIN_UNAVAILABLE", r.raw)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("upstream calls = %d; want 2", n)
	}
}

func TestMetricsListOnlyStatusCodesThatHappened(t *testing.T) {
	s := startService(t, nil)
	s.rest(http.MethodGet, q("x"))
	s.rest(http.MethodGet, "query=a&query=b")
	_, body := s.get("/metrics")
	for _, want := range []string{`code="200",route="data"`, `code="400",route="data"`} {
		if !strings.Contains(body, "gqlcache_http_request_duration_seconds_count{"+want+"} 1") {
			t.Errorf("/metrics lacks the series %s with one request", want)
		}
	}
	if strings.Contains(body, `code="503"`) || strings.Contains(body, `route="graphql"`) {
		t.Error("/metrics lists series for codes or routes that never answered")
	}
}
