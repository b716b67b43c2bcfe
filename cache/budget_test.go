package cache_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// Store is what the wrappers below sit on: a store with its tag index, so
// that what they do not count or time still reaches Redis.
type Store interface {
	cache.Store
	cache.TagIndex
}

// counting is a Store that counts the calls made on the store beneath it,
// by method: what the cache asked of Redis, not only what it answered.
type counting struct {
	Store
	gets, getManys, claims, fills, releases, replaces atomic.Int64
}

func (s *counting) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	s.getManys.Add(1)
	return s.Store.GetMany(ctx, keys)
}

func (s *counting) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *counting) Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (cache.Claim, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, key, token, leaseTTL)
}

func (s *counting) Fill(ctx context.Context, key string, stamp, value []byte, ttl time.Duration, token string) (bool, error) {
	s.fills.Add(1)
	return s.Store.Fill(ctx, key, stamp, value, ttl, token)
}

func (s *counting) Release(ctx context.Context, key, token string) error {
	s.releases.Add(1)
	return s.Store.Release(ctx, key, token)
}

func (s *counting) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.replaces.Add(1)
	return s.Store.Replace(ctx, key, value, ttl)
}

func (s *counting) calls() int64 {
	return s.gets.Load() + s.getManys.Load() + s.claims.Load() + s.fills.Load() + s.releases.Load() + s.replaces.Load()
}

// countingOn returns a counting store on the Redis at url.
func countingOn(t *testing.T, url string) *counting {
	return &counting{Store: cache.NewRedisStore(redisClient(t, url), "test")}
}

// waitUntil polls cond until it holds, and fails the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// TestRequestAfterInvalidationDoesNotJoinEarlierFill holds a fill in the
// origin, invalidates its key, and sends another request: that request must
// fetch anew, not take the answer of a fill that began before the
// invalidation.
func TestRequestAfterInvalidationDoesNotJoinEarlierFill(t *testing.T) {
	url, prefix := redistest.Shared(t)
	s := countingOn(t, url)
	e := newCacheOn(t, s, cache.Options{Prefix: prefix})
	o := &origin{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	ctx := context.Background()

	before := make(chan cache.Result, 1)
	go func() { before <- mustGet(t, e.c, ctx, dataQuery, o.load) }()
	<-o.entered
	if _, err := e.c.Invalidate(ctx, dataQuery); err != nil {
		t.Fatal(err)
	}
	after := make(chan cache.Result, 1)
	go func() { after <- mustGet(t, e.c, ctx, dataQuery, o.load) }()
	// Had it joined the held fill, it would wait on the gate without
	// calling the origin.
	waitUntil(t, "the request after the invalidation calls the origin (did it join the fill from before?)", func() bool {
		return o.calls.Load() == 2
	})
	close(o.gate)
	a, b := <-before, <-after

	if got := e.metric(t, "gqlcache_cache_coalesced_waits_total"); got != 0 {
		t.Errorf("coalesced waits = %v; want 0 (the request after the invalidation joined the fill from before it)", got)
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin calls = %d; want 2", got)
	}
	if string(a.Data) != `{"answer":1}` || string(b.Data) != `{"answer":2}` {
		t.Errorf("answers before and after the invalidation = %s, %s; want {\"answer\":1}, {\"answer\":2}", a.Data, b.Data)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache || string(r.Data) != `{"answer":2}` {
		t.Errorf("next request: got %s from %v; want the answer fetched after the invalidation, from the cache", r.Data, r.Source)
	}
}

// TestOpenBreakerMakesNoStoreCall stands the cache on a Redis that hangs (a
// proxy that holds every reply for an hour: it neither refuses nor drops).
// Three requests open the breaker, each paying at most its budget; from then
// on requests make no store call at all and cost only the origin.
func TestOpenBreakerMakesNoStoreCall(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.Delayed(t, srv.Addr(), time.Hour)
	s := countingOn(t, proxy.URL())
	const budget = 100 * time.Millisecond
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t), StoreBudget: budget, BreakerCooldown: time.Hour})
	o := &origin{}
	ctx := context.Background()

	for i := range 3 {
		start := time.Now()
		r := mustGet(t, e.c, ctx, dataQuery, o.load)
		if took := time.Since(start); r.Source != cache.SourceOrigin || took > 10*budget {
			t.Errorf("request %d on a hanging Redis: source %v after %v; want the origin's answer within the %v budget", i, r.Source, took, budget)
		}
	}
	if got := e.metric(t, "gqlcache_store_breaker_open"); got != 1 {
		t.Fatalf("gqlcache_store_breaker_open = %v after 3 timed-out requests; want 1", got)
	}
	callsBefore := s.calls()
	const n = 100
	start := time.Now()
	for range n {
		mustGet(t, e.c, ctx, dataQuery, o.load)
	}
	per := time.Since(start) / n
	t.Logf("per request with the breaker open: %v (budget %v)", per, budget)
	if got := s.calls() - callsBefore; got != 0 {
		t.Errorf("store calls during %d requests with the breaker open = %d; want 0", n, got)
	}
	if per > budget/2 {
		t.Errorf("per request with the breaker open: %v; want far below the %v budget", per, budget)
	}
}

// heldReads is a Store whose reads, while hold is set, each wait once they
// have read until the test lets them go: hits that have all seen one stale
// entry then act on it in the order the test chooses.
type heldReads struct {
	*counting
	hold    atomic.Bool
	read    chan struct{} // told of each held read
	release chan struct{} // a send lets one held read go; closing, all
}

func (s *heldReads) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.counting.Get(ctx, key)
	if s.hold.Load() {
		s.read <- struct{}{}
		<-s.release
	}
	return v, err
}

// TestBurstOfStaleHitsStartsOneRefresh has a burst of hits all read one
// stale entry, then lets the first act on it (which starts a refresh, held
// in the origin), half of the others while that refresh is under way, and
// the rest once it has ended and stored the fresh answer. The store sees one
// claim and the origin one call, whatever the order: the hits in the second
// half read the stale entry before the refresh replaced it, but must not
// start another.
func TestBurstOfStaleHitsStartsOneRefresh(t *testing.T) {
	const n = 16
	url, prefix := redistest.Shared(t)
	s := &heldReads{counting: countingOn(t, url), read: make(chan struct{}, n), release: make(chan struct{})}
	clk := &clock{}
	clk.Advance(time.Duration(time.Now().UnixNano()))
	e := newCacheOn(t, s, cache.Options{Prefix: prefix, Stale: time.Minute, Now: clk.Now})
	o := &origin{}
	ctx := context.Background()
	mustGet(t, e.c, ctx, dataQuery, o.load)
	clk.Advance(dataQuery.Policy.TTL + time.Second) // stale now

	o.gate, o.entered = make(chan struct{}), make(chan struct{}, 1)
	claimsBefore, callsBefore := s.claims.Load(), o.calls.Load()
	s.hold.Store(true)
	results := make(chan cache.Result, n)
	for range n {
		go func() { results <- mustGet(t, e.c, ctx, dataQuery, o.load) }()
	}
	for range n {
		<-s.read
	}
	var answers []cache.Result
	let := func(k int) {
		for range k {
			s.release <- struct{}{}
		}
		for range k {
			answers = append(answers, <-results)
		}
	}
	let(1)
	<-o.entered // the refresh is under way
	let(n/2 - 1)
	close(o.gate)
	e.c.WaitRefreshes()
	s.hold.Store(false)
	close(s.release)
	for len(answers) < n {
		answers = append(answers, <-results)
	}
	e.c.WaitRefreshes()

	for i, r := range answers {
		if !r.Stale || string(r.Data) != `{"answer":1}` {
			t.Errorf("hit %d: got %s, stale %t; want the stale {\"answer\":1}", i, r.Data, r.Stale)
		}
	}
	if got := s.claims.Load() - claimsBefore; got != 1 {
		t.Errorf("store claims after %d stale hits = %d; want 1 (one refresh)", n, got)
	}
	if got := o.calls.Load() - callsBefore; got != 1 {
		t.Errorf("origin calls after %d stale hits = %d; want 1", n, got)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Stale || r.Source != cache.SourceCache || string(r.Data) != `{"answer":2}` {
		t.Errorf("after the refresh: got %s from %v, stale %t; want the refreshed {\"answer\":2}, fresh, from the cache", r.Data, r.Source, r.Stale)
	}
}

// TestSlowOrPausedRedisCostsARequestItsBudget stands the cache on a private
// Redis that turns slow (every reply 2 s late, through a delaying proxy) or
// stalls (CLIENT PAUSE): no request waits for Redis's answer, none fails,
// the breaker soon spares requests any store call, and once Redis is well
// again a probe brings the cache back.
func TestSlowOrPausedRedisCostsARequestItsBudget(t *testing.T) {
	const budget = 200 * time.Millisecond
	for _, tc := range []struct {
		name          string
		fault, repair func(t *testing.T, srv *redistest.Server, proxy *redistest.DelayProxy)
	}{
		{
			name:   "slow",
			fault:  func(_ *testing.T, _ *redistest.Server, p *redistest.DelayProxy) { p.SetDelay(2 * time.Second) },
			repair: func(_ *testing.T, _ *redistest.Server, p *redistest.DelayProxy) { p.SetDelay(0) },
		},
		{
			// The pause lasts past the requests and ends by itself: while
			// it lasts, even a new connection's handshake waits.
			name: "paused",
			fault: func(t *testing.T, srv *redistest.Server, _ *redistest.DelayProxy) {
				if err := redisClient(t, srv.URL()).Do(context.Background(), "CLIENT", "PAUSE", 3000, "ALL").Err(); err != nil {
					t.Fatal(err)
				}
			},
			repair: func(*testing.T, *redistest.Server, *redistest.DelayProxy) {},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			proxy := redistest.Delayed(t, srv.Addr(), 0)
			s := countingOn(t, proxy.URL())
			e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t), StoreBudget: budget, BreakerCooldown: 300 * time.Millisecond})
			o := &origin{}
			ctx := context.Background()
			mustGet(t, e.c, ctx, dataQuery, o.load)
			tc.fault(t, srv, proxy)

			const n = 20
			callsBefore := s.calls()
			var slowest time.Duration
			for i := range n {
				start := time.Now()
				r := mustGet(t, e.c, ctx, dataQuery, o.load)
				took := time.Since(start)
				slowest = max(slowest, took)
				if r.Source != cache.SourceOrigin || took > time.Second {
					t.Errorf("request %d: source %v after %v; want the origin's answer without waiting for Redis (budget %v)", i, r.Source, took, budget)
				}
			}
			calls := s.calls() - callsBefore
			t.Logf("%d requests: %d store calls, slowest %v (budget %v)", n, calls, slowest, budget)
			if calls >= n {
				t.Errorf("store calls during %d requests = %d; want fewer than one a request (the breaker open)", n, calls)
			}
			tc.repair(t, srv, proxy)
			waitUntil(t, "a cache hit once Redis is well", func() bool {
				r, err := e.c.Get(ctx, dataQuery, o.load)
				return err == nil && r.Source == cache.SourceCache
			})
		})
	}
}

// timed is a Store that records, for each call on a request's path, how long
// its context let it wait (its grant) and how long it took.
type timed struct {
	Store
	mu    sync.Mutex
	calls []timedCall
}

type timedCall struct {
	op          string
	grant, took time.Duration
}

func (c timedCall) String() string {
	return fmt.Sprintf("%s granted %v took %v", c.op, c.grant.Round(time.Millisecond), c.took.Round(time.Millisecond))
}

// record starts timing one call; the function it returns ends it.
func (s *timed) record(ctx context.Context, op string) func() {
	start := time.Now()
	grant := time.Duration(math.MaxInt64)
	if d, ok := ctx.Deadline(); ok {
		grant = d.Sub(start)
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, timedCall{op, grant, time.Since(start)})
	}
}

// take returns the calls recorded since the last take.
func (s *timed) take() []timedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

func (s *timed) Get(ctx context.Context, key string) ([]byte, error) {
	defer s.record(ctx, "get")()
	return s.Store.Get(ctx, key)
}

func (s *timed) Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (cache.Claim, error) {
	defer s.record(ctx, "claim")()
	return s.Store.Claim(ctx, key, token, leaseTTL)
}

func (s *timed) Fill(ctx context.Context, key string, stamp, value []byte, ttl time.Duration, token string) (bool, error) {
	defer s.record(ctx, "fill")()
	return s.Store.Fill(ctx, key, stamp, value, ttl, token)
}

func (s *timed) Release(ctx context.Context, key, token string) error {
	defer s.record(ctx, "release")()
	return s.Store.Release(ctx, key, token)
}

func (s *timed) Tag(ctx context.Context, key string, tagKeys []string, until, now time.Time) (time.Time, error) {
	defer s.record(ctx, "tag")()
	return s.Store.Tag(ctx, key, tagKeys, until, now)
}

// TestRequestsStoreCallsShareOneBudget sends misses to a Redis that answers
// every call 90 ms late, under a 100 ms budget: the read takes 90 ms, so the
// calls after it may wait only what is left. Each call's grant is checked
// against what the calls before it took, which holds however busy the
// machine: a miss waits for the store about its budget in all, never a
// budget per call.
func TestRequestsStoreCallsShareOneBudget(t *testing.T) {
	const budget, delay = 100 * time.Millisecond, 90 * time.Millisecond
	srv := redistest.Start(t)
	proxy := redistest.Delayed(t, srv.Addr(), 0)
	s := &timed{Store: cache.NewRedisStore(redisClient(t, proxy.URL()), "test")}
	// The breaker would soon spare the misses their store calls, which are
	// what this test watches.
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t), StoreBudget: budget, BreakerFailures: 1000, SlowCall: time.Hour})
	o := &origin{}
	ctx := context.Background()

	shared := 0 // misses whose read left time for another call
	for i := range 5 {
		// A call that overruns its grant costs its connection; a new one's
		// handshake would be delayed too, so each miss starts on a
		// connection made while Redis is quick.
		proxy.SetDelay(0)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		proxy.SetDelay(delay)
		s.take()

		start := time.Now()
		r := mustGet(t, e.c, ctx, withArgs(dataQuery, fmt.Sprint("miss-", i)), o.load)
		took := time.Since(start)
		calls := s.take()
		t.Logf("miss %d in %v: %v", i, took.Round(time.Millisecond), calls)
		if r.Source != cache.SourceOrigin {
			t.Errorf("miss %d: source %v; want the origin", i, r.Source)
		}
		if len(calls) == 0 || calls[0].op != "get" || calls[0].took < delay {
			t.Fatalf("miss %d: store calls %v; want a read first, taking at least the %v delay", i, calls, delay)
		}
		var spent time.Duration
		for j, c := range calls {
			if left := budget - spent; c.grant > left {
				t.Errorf("miss %d, call %d (%s): granted %v after %v of the %v budget was spent; want at most the %v left",
					i, j, c.op, c.grant, spent, budget, left)
			}
			spent += c.took
		}
		if len(calls) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no miss made a store call after its read: the budget was never shared between calls")
	}
}

// TestSlowButAliveRedisOpensTheBreaker stands the cache on a Redis that
// answers every call, but 40 ms late: past a 20 ms SlowCall, far within the
// budget, so no call fails. The slow hits open the breaker all the same,
// after which requests make no store call and cost only the origin.
func TestSlowButAliveRedisOpensTheBreaker(t *testing.T) {
	const slowCall, delay = 20 * time.Millisecond, 40 * time.Millisecond
	srv := redistest.Start(t)
	proxy := redistest.Delayed(t, srv.Addr(), 0)
	s := countingOn(t, proxy.URL())
	// An hour's cooldown is also the breaker's counting interval: its
	// counts never reset during the test.
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t), SlowCall: slowCall, BreakerCooldown: time.Hour})
	o := &origin{}
	ctx := context.Background()
	mustGet(t, e.c, ctx, dataQuery, o.load)
	proxy.SetDelay(delay)

	hits := 0
	for ; hits < 40 && e.metric(t, "gqlcache_store_breaker_open") == 0; hits++ {
		if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
			t.Fatalf("hit %d on a slow Redis: source %v; want the stored answer (Redis still answers)", hits, r.Source)
		}
	}
	if got := e.metric(t, "gqlcache_store_breaker_open"); got != 1 || hits > 20 {
		t.Fatalf("gqlcache_store_breaker_open = %v after %d hits each %v late; want 1 within 20 (slow calls and errors half of at least 20 calls)", got, hits, delay)
	}
	if got := e.metric(t, "gqlcache_store_errors_total"); got != 0 {
		t.Errorf("gqlcache_store_errors_total = %v; want 0 (Redis was slow, never failing)", got)
	}
	// The fill's quick calls may count too, slowed by a busy machine.
	if got := e.metric(t, "gqlcache_store_slow_calls_total"); got < float64(hits) {
		t.Errorf("gqlcache_store_slow_calls_total = %v; want at least %d, one per hit", got, hits)
	}

	callsBefore, originBefore := s.calls(), o.calls.Load()
	const n = 10
	for i := range n {
		if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceOrigin {
			t.Errorf("request %d with the breaker open: source %v; want the origin", i, r.Source)
		}
	}
	if got := s.calls() - callsBefore; got != 0 {
		t.Errorf("store calls during %d requests with the breaker open = %d; want 0", n, got)
	}
	if got := o.calls.Load() - originBefore; got != n {
		t.Errorf("origin calls during %d requests with the breaker open = %d; want %d", n, got, n)
	}
}
