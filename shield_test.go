package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClientRevalidationIsTheOperatorsChoice(t *testing.T) {
	admin := []string{"Authorization", "Bearer s3cret"}
	for _, tc := range []struct {
		name, mode string
		header     []string
		wantCalls  int64
		honoured   float64
		asked      float64
	}{
		{"default, a browser's reload", "", []string{"Cache-Control", "max-age=0"}, 1, 0, 100},
		{"default, no-cache", "", []string{"Cache-Control", "no-cache"}, 1, 0, 100},
		{"default, Pragma", "", []string{"Pragma", "no-cache"}, 1, 0, 100},
		{"default, the admin token", "", append([]string{"Cache-Control", "no-cache"}, admin...), 100, 100, 100},
		{"admin, a wrong token", "admin", []string{"Cache-Control", "no-cache", "Authorization", "Bearer guess"}, 1, 0, 100},
		{"never, even the admin token", "never", append([]string{"Cache-Control", "max-age=0"}, admin...), 1, 0, 100},
		{"always, a browser's reload", "always", []string{"Cache-Control", "max-age=0"}, 100, 100, 100},
		{"always, Pragma", "always", []string{"Pragma", "no-cache"}, 100, 100, 100},
		{"always, Pragma beside Cache-Control", "always", []string{"Pragma", "no-cache", "Cache-Control", "max-age=60"}, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := redisEnv(t, "ADMIN_TOKEN", "s3cret", "CACHE_TTL", "1m")
			if tc.mode != "" {
				env["CLIENT_REVALIDATION"] = tc.mode
			}
			o := &countingOrigin{}
			s := startWithOrigin(t, env, o)
			var last restResponse
			for i := range 100 {
				if i%2 == 0 {
					last = s.rest(http.MethodGet, q("weather:paris"), tc.header...)
				} else {
					s.post(fullSelection, nil, tc.header...).field(t, "data")
				}
			}
			if n := o.n.Load(); n != tc.wantCalls {
				t.Errorf("origin calls for 100 requests = %d; want %d", n, tc.wantCalls)
			}
			if tc.wantCalls == 1 && last.body.Source != "cache" {
				t.Errorf("an ignored revalidation: source %q; want cache", last.body.Source)
			}
			asked := s.metric("gqlcache_client_revalidations_total")
			if honoured := s.metricWith("gqlcache_client_revalidations_total", `outcome="honoured"`); honoured != tc.honoured || asked != tc.asked {
				t.Errorf("revalidations counted: %v honoured of %v asked; want %v of %v", honoured, asked, tc.honoured, tc.asked)
			}
			// Whatever the policy, the entry a revalidation stored is what the next request reads.
			before := s.rest(http.MethodGet, q("weather:paris"))
			if after := s.post(fullSelection, nil).field(t, "data"); after.Source != "CACHE" || string(after.Data) != string(before.body.Data) {
				t.Errorf("next plain request: %s %s; want CACHE %s", after.Source, after.Data, before.body.Data)
			}
		})
	}
}

func TestOriginProtectionConfig(t *testing.T) {
	c, err := loadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.clientRevalidation != revalidateAdmin || c.originMaxInflight != 16 || c.originQueueTimeout != 100*time.Millisecond ||
		c.originBreakerFails != 5 || c.originBreakerCool != 5*time.Second || c.negativeTTL != time.Second {
		t.Errorf("defaults: got %+v; want admin, 16, 100ms, 5, 5s, 1s", c)
	}
	c, err = loadConfig(env("CLIENT_REVALIDATION", "Always", "ORIGIN_MAX_INFLIGHT", "64", "ORIGIN_QUEUE_TIMEOUT", "1s",
		"ORIGIN_BREAKER_FAILURES", "2", "ORIGIN_BREAKER_COOLDOWN", "30s", "NEGATIVE_TTL", "10s"))
	if err != nil {
		t.Fatal(err)
	}
	if c.clientRevalidation != revalidateAlways || c.originMaxInflight != 64 || c.originQueueTimeout != time.Second ||
		c.originBreakerFails != 2 || c.originBreakerCool != 30*time.Second || c.negativeTTL != 10*time.Second {
		t.Errorf("got %+v; want the values given", c)
	}
}

// upstream is a real HTTP upstream that counts its calls and the most it
// ever had under way at once.
type upstream struct {
	*httptest.Server
	calls         atomic.Int64
	mu            sync.Mutex
	inflight, max int
}

func newUpstream(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, call int64)) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := u.calls.Add(1)
		u.mu.Lock()
		u.inflight++
		u.max = max(u.max, u.inflight)
		u.mu.Unlock()
		defer func() {
			u.mu.Lock()
			u.inflight--
			u.mu.Unlock()
		}()
		answer(w, r, n)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) peak() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.max
}

func jsonItem(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"item":%q}`, r.URL.Path)
}

func TestUpstreamNotFoundIsAnAnswer(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		jsonItem(w, r)
	})
	s := startService(t, redisEnv(t, "ORIGIN_URL", up.URL+"/items/{query}", "NEGATIVE_TTL", "1m", "ADMIN_TOKEN", "s3cret"))
	for range 10 {
		r := s.rest(http.MethodGet, q("missing"))
		if r.status != http.StatusNotFound || r.body.Code != "NOT_FOUND" || r.body.Error == "" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("REST for a missing item: got %d %s; want 404 with error and code NOT_FOUND", r.status, r.raw)
		}
		g := s.post(`{ data(query: "missing") { source } }`, nil)
		if len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "NOT_FOUND" || g.Data != nil {
			t.Fatalf("GraphQL for a missing item: got %s; want one NOT_FOUND error", g.raw)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Errorf("upstream calls for 20 requests of a missing item = %d; want 1", n)
	}
	if n := s.metric("gqlcache_cache_not_found_total"); n != 20 {
		t.Errorf("not-found answers counted = %v; want 20", n)
	}
	// Invalidation removes a negative entry like any other.
	if r := s.rest(http.MethodDelete, q("missing"), "Authorization", "Bearer s3cret"); !strings.Contains(r.raw, `"invalidated":true`) {
		t.Fatalf("DELETE of a negative entry: got %d %s; want invalidated true", r.status, r.raw)
	}
	if r := s.rest(http.MethodGet, q("missing")); r.status != http.StatusNotFound || up.calls.Load() != 2 {
		t.Errorf("after invalidation: got %d with %d upstream calls; want 404 from a second call", r.status, up.calls.Load())
	}
}

// TestUpstreamRetryAfterIsObeyed runs the service on a test clock, so that
// the upstream's pause lasts exactly until the test moves the clock past it,
// however long the requests in between take on a busy machine.
func TestUpstreamRetryAfterIsObeyed(t *testing.T) {
	var pausing atomic.Bool
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		if pausing.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		jsonItem(w, r)
	})
	clk := newClock()
	s := startOnClock(t, redisEnv(t, "ORIGIN_URL", up.URL+"/items/{query}", "CACHE_TTL", "200ms", "CACHE_STALE", "1m"), clk)
	warm := s.rest(http.MethodGet, q("warm"))
	clk.Advance(250 * time.Millisecond) // warm is stale now

	pausing.Store(true)
	r := s.rest(http.MethodGet, q("a"))
	if r.status != http.StatusServiceUnavailable || r.body.Code != "ORIGIN_UNAVAILABLE" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("the upstream's 503 Retry-After: 1: got %d %s Retry-After %q; want 503 ORIGIN_UNAVAILABLE, Retry-After 1", r.status, r.raw, r.header.Get("Retry-After"))
	}
	pausing.Store(false) // the upstream would answer now; the service must not ask it yet
	g := s.post(`{ data(query: "b") { source } }`, nil)
	if len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "ORIGIN_UNAVAILABLE" || g.Errors[0].Extensions["retryAfter"] != 1.0 {
		t.Errorf("GraphQL miss during the pause: got %s; want ORIGIN_UNAVAILABLE with retryAfter 1", g.raw)
	}
	if r := s.rest(http.MethodGet, q("c")); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" {
		t.Errorf("REST miss during the pause: got %d Retry-After %q; want 503, Retry-After 1", r.status, r.header.Get("Retry-After"))
	}
	if r := s.rest(http.MethodGet, q("warm")); r.status != http.StatusOK || string(r.body.Data) != string(warm.body.Data) {
		t.Errorf("stale key during the pause: got %d %s; want its stale copy", r.status, r.raw)
	}
	clk.Advance(999 * time.Millisecond)
	if r := s.rest(http.MethodGet, q("a")); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" {
		t.Errorf("a millisecond before Retry-After passed: got %d Retry-After %q; want 503, Retry-After 1", r.status, r.header.Get("Retry-After"))
	}
	if n := up.calls.Load(); n != 2 {
		t.Errorf("upstream calls before Retry-After passed = %d; want 2 (warm, then the 503)", n)
	}
	clk.Advance(time.Millisecond)
	if r := s.rest(http.MethodGet, q("a")); r.status != http.StatusOK || up.calls.Load() != 3 {
		t.Errorf("after Retry-After: got %d with %d upstream calls; want 200 from a third call", r.status, up.calls.Load())
	}
}

func TestDeadUpstreamOpensTheOriginBreaker(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		select { // far past ORIGIN_TIMEOUT
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	s := startService(t, redisEnv(t, "ORIGIN_URL", up.URL+"/items/{query}", "ORIGIN_TIMEOUT", "500ms",
		"ORIGIN_BREAKER_FAILURES", "3", "ORIGIN_BREAKER_COOLDOWN", "10s"))
	for i := range 3 {
		if r := s.rest(http.MethodGet, q(fmt.Sprint("t", i))); r.status != http.StatusGatewayTimeout {
			t.Fatalf("call %d: got %d %s; want 504", i, r.status, r.raw)
		}
	}
	for i := range 10 {
		start := time.Now()
		r := s.rest(http.MethodGet, q(fmt.Sprint("open", i)))
		took := time.Since(start)
		if r.status != http.StatusServiceUnavailable || r.body.Code != "ORIGIN_UNAVAILABLE" || r.header.Get("Retry-After") != "10" || took > 250*time.Millisecond {
			t.Fatalf("breaker open: got %d %s Retry-After %q after %v; want 503 ORIGIN_UNAVAILABLE, Retry-After 10, at once (not the 500ms timeout)",
				r.status, r.raw, r.header.Get("Retry-After"), took)
		}
	}
	if g := s.post(`{ data(query: "open") { source } }`, nil); len(g.Errors) != 1 || g.Errors[0].Extensions["code"] != "ORIGIN_UNAVAILABLE" {
		t.Errorf("GraphQL, breaker open: got %s; want ORIGIN_UNAVAILABLE", g.raw)
	}
	if n := up.calls.Load(); n != 3 {
		t.Errorf("upstream calls = %d; want 3 (none while the breaker is open)", n)
	}
	if _, body := s.get("/readyz"); !strings.Contains(body, `"origin_breaker":"open"`) {
		t.Errorf("/readyz = %s; want origin_breaker open", body)
	}
	if n := s.metric("gqlcache_origin_breaker_open"); n != 1 {
		t.Errorf("origin_breaker_open = %v; want 1", n)
	}
}

func TestOriginConcurrencyBoundedUnderFlood(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		time.Sleep(200 * time.Millisecond)
		jsonItem(w, r)
	})
	// 64 misses for 4 slots held 200ms each: a request that queued would
	// wait about 3s, so it would be refused after the 1s queue timeout.
	s := startService(t, redisEnv(t, "ORIGIN_URL", up.URL+"/items/{query}", "CACHE_TTL", "1m",
		"ORIGIN_MAX_INFLIGHT", "4", "ORIGIN_QUEUE_TIMEOUT", "1s"))
	s.rest(http.MethodGet, q("warm"))

	var wg sync.WaitGroup
	var ok, busy, other atomic.Int64
	stop := make(chan struct{})
	for c := range 64 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := s.rest(http.MethodGet, q(fmt.Sprintf("flood-%d-%d", c, i)))
				switch {
				case r.status == http.StatusOK:
					ok.Add(1)
				case r.status == http.StatusServiceUnavailable && r.body.Code == "ORIGIN_BUSY" && r.header.Get("Retry-After") == "1":
					busy.Add(1)
				default:
					other.Add(1)
					t.Errorf("flood: got %d %s; want 200, or 503 ORIGIN_BUSY with Retry-After 1", r.status, r.raw)
				}
			}
		})
	}
	time.Sleep(1200 * time.Millisecond) // past the first refusals
	if g := s.post(`{ data(query: "graphql-flood") { source } }`, nil); len(g.Errors) == 1 && g.Errors[0].Extensions["code"] != "ORIGIN_BUSY" {
		t.Errorf("GraphQL miss during the flood: got %s; want an answer or ORIGIN_BUSY", g.raw)
	}
	var slowest time.Duration
	for range 20 {
		start := time.Now()
		if r := s.rest(http.MethodGet, q("warm")); r.body.Source != "cache" {
			t.Errorf("warm key during the flood: got %d %s; want a hit, never queued behind the misses", r.status, r.raw)
		}
		slowest = max(slowest, time.Since(start))
	}
	close(stop)
	wg.Wait()
	if p := up.peak(); p != 4 {
		t.Errorf("peak upstream concurrency = %d; want ORIGIN_MAX_INFLIGHT (4)", p)
	}
	if busy.Load() == 0 || ok.Load() == 0 {
		t.Errorf("flood: %d answered, %d refused busy; want both", ok.Load(), busy.Load())
	}
	if n := s.metricWith("gqlcache_origin_refusals_total", `reason="busy"`); n < float64(busy.Load()) {
		t.Errorf("origin_refusals_total{busy} = %v; want at least the %d refusals clients saw", n, busy.Load())
	}
	t.Logf("flood: peak upstream concurrency %d, %d answered, %d refused busy; slowest warm hit %v", up.peak(), ok.Load(), busy.Load(), slowest)
}

// metricWith reads the sample of a labelled metric whose labels include label.
func (s *service) metricWith(name, label string) float64 {
	s.t.Helper()
	_, body := s.get("/metrics")
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
				s.t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}
