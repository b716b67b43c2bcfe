package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

func TestMain(m *testing.M) {
	// Outage tests make go-redis log every refused dial; the cache's own
	// metrics are what they assert on.
	redis.SetLogger(&logging.VoidLogger{})
	goleak.VerifyTestMain(m)
}

// origin is a test origin: it counts calls, answers a distinct JSON value
// each time, and can be slowed, failed or held at a gate.
type origin struct {
	calls atomic.Int64
	delay time.Duration
	fail  atomic.Bool
	// gate, when set, holds every call until it is closed; entered is told
	// of each call first.
	gate    chan struct{}
	entered chan struct{}
	// tags are returned with every answer.
	tags []string
}

func (o *origin) load(ctx context.Context) (cache.Fetched, error) {
	n := o.calls.Add(1)
	if o.entered != nil {
		o.entered <- struct{}{}
	}
	if o.gate != nil {
		<-o.gate
	}
	if o.delay > 0 {
		select {
		case <-time.After(o.delay):
		case <-ctx.Done():
			return cache.Fetched{}, ctx.Err()
		}
	}
	if o.fail.Load() {
		return cache.Fetched{}, errors.New("origin down at 10.0.0.7:5432")
	}
	return cache.Fetched{Data: fmt.Appendf(nil, `{"answer":%d}`, n), Tags: o.tags}, nil
}

var dataQuery = cache.Query{Field: "Query.data", Args: map[string]any{"query": "weather:paris"}, Policy: cache.Policy{TTL: time.Minute}}

func withTTL(q cache.Query, ttl time.Duration) cache.Query {
	q.Policy.TTL = ttl
	return q
}

type env struct {
	c   *cache.Cache
	reg *prometheus.Registry
}

// newCache returns a cache on the shared Redis under a prefix of the test's
// own. Options left zero take the cache's defaults, but for StoreBudget (see
// newCacheOn).
func newCache(t *testing.T, opts cache.Options) env {
	t.Helper()
	url, prefix := redistest.Shared(t)
	if opts.Prefix == "" {
		opts.Prefix = prefix
	}
	return newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), opts)
}

// testBudget is the store budget of tests that are not about it: under the
// race detector, on a machine shared with other builds, a burst's first
// calls wait for a cold pool's connections for hundreds of milliseconds, and
// a miss for want of them would make a coalescing test flaky.
const testBudget = 2 * time.Second

// newCacheOn returns a cache on s, with a StoreBudget of testBudget unless
// opts sets one.
func newCacheOn(t *testing.T, s cache.Store, opts cache.Options) env {
	t.Helper()
	if opts.StoreBudget == 0 {
		opts.StoreBudget = testBudget
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	c, err := cache.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return env{c: c, reg: reg}
}

// metric sums the samples of the named metric.
func (e env) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func mustGet(t *testing.T, c *cache.Cache, ctx context.Context, q cache.Query, load cache.Loader) cache.Result {
	t.Helper()
	r, err := c.Get(ctx, q, load)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return r
}

func TestMissHitExpiry(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	ctx := context.Background()
	q := withTTL(dataQuery, 300*time.Millisecond)

	first := mustGet(t, e.c, ctx, q, o.load)
	if first.Source != cache.SourceOrigin || !first.Stored || first.Stale {
		t.Fatalf("first Get: got %+v; want a stored answer from the origin", first)
	}
	if got := first.ExpiresIn(); got != 1 {
		t.Errorf("first ExpiresIn = %d; want 1 (300ms rounded up)", got)
	}
	second := mustGet(t, e.c, ctx, q, o.load)
	if second.Source != cache.SourceCache {
		t.Errorf("second Get: source %v; want the cache", second.Source)
	}
	if !second.CachedAt.Equal(first.CachedAt) || string(second.Data) != string(first.Data) || second.ID != first.ID {
		t.Errorf("second Get: got %s at %v; want %s at %v", second.Data, second.CachedAt, first.Data, first.CachedAt)
	}
	if first.CachedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("CachedAt %v has sub-millisecond digits; want millisecond precision", first.CachedAt)
	}
	time.Sleep(350 * time.Millisecond)
	third := mustGet(t, e.c, ctx, q, o.load)
	if third.Source != cache.SourceOrigin || !third.CachedAt.After(first.CachedAt) {
		t.Errorf("Get after the TTL: got source %v cachedAt %v; want a new answer from the origin", third.Source, third.CachedAt)
	}
	if n := o.calls.Load(); n != 2 {
		t.Errorf("origin calls = %d; want 2", n)
	}
	if got := e.metric(t, "gqlcache_origin_fetches_total"); got != 2 {
		t.Errorf("gqlcache_origin_fetches_total = %v; want 2", got)
	}
	if hits, misses := e.metric(t, "gqlcache_cache_hits_total"), e.metric(t, "gqlcache_cache_misses_total"); hits != 1 || misses != 2 {
		t.Errorf("hits, misses = %v, %v; want 1, 2", hits, misses)
	}
}

func TestResultFreshnessFigures(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		served         time.Duration
		expiresIn, age int
		ttl            time.Duration
		maxAge         int
	}{
		{served: 0, ttl: 5 * time.Second, expiresIn: 5, age: 0, maxAge: 5},
		{served: 200 * time.Millisecond, ttl: 5 * time.Second, expiresIn: 5, age: 0, maxAge: 5},
		{served: 4900 * time.Millisecond, ttl: 5 * time.Second, expiresIn: 1, age: 4, maxAge: 5},
		{served: 5 * time.Second, ttl: 5 * time.Second, expiresIn: 0, age: 5, maxAge: 5},
		{served: 9 * time.Second, ttl: 5 * time.Second, expiresIn: 0, age: 9, maxAge: 5},
		{served: 0, ttl: 1500 * time.Millisecond, expiresIn: 2, age: 0, maxAge: 2},
	} {
		r := cache.Result{CachedAt: at, FreshUntil: at.Add(tc.ttl), ServedAt: at.Add(tc.served)}
		if got := r.ExpiresIn(); got != tc.expiresIn {
			t.Errorf("ttl %v served at +%v: ExpiresIn = %d; want %d", tc.ttl, tc.served, got, tc.expiresIn)
		}
		if got := r.Age(); got != tc.age {
			t.Errorf("ttl %v served at +%v: Age = %d; want %d", tc.ttl, tc.served, got, tc.age)
		}
		if got := r.MaxAge(); got != tc.maxAge {
			t.Errorf("ttl %v: MaxAge = %d; want %d", tc.ttl, got, tc.maxAge)
		}
	}
}

func TestBurstOfMissesCallsOriginOnce(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{delay: 200 * time.Millisecond}
	const n = 200
	results := make([]cache.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = e.c.Get(context.Background(), dataQuery, o.load) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if string(results[i].Data) != string(results[0].Data) {
			t.Fatalf("request %d got %s; want %s like the others", i, results[i].Data, results[0].Data)
		}
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin calls = %d; want 1", got)
	}
	if got := e.metric(t, "gqlcache_cache_coalesced_waits_total"); got != n-1 {
		t.Errorf("coalesced waits = %v; want %d", got, n-1)
	}
}

func TestWaiterLeavingDoesNotFailOthers(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	leaderCtx, leave := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := e.c.Get(leaderCtx, dataQuery, o.load)
		leaderErr <- err
	}()
	<-o.entered // the leader's fill is at the origin
	other := make(chan cache.Result, 1)
	go func() { other <- mustGet(t, e.c, context.Background(), dataQuery, o.load) }()
	leave()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the leaving caller got %v; want context.Canceled", err)
	}
	close(o.gate)
	got := <-other
	if r := mustGet(t, e.c, context.Background(), dataQuery, o.load); r.Source != cache.SourceCache || r.ID != got.ID {
		t.Errorf("after the fill: source %v; want the stored answer the remaining caller got (the fill must outlive its first caller)", r.Source)
	}
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin calls = %d; want 1", got)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	e := newCache(t, cache.Options{Stale: 10 * time.Second})
	o := &origin{}
	ctx := context.Background()
	q := withTTL(dataQuery, 100*time.Millisecond)
	first := mustGet(t, e.c, ctx, q, o.load)
	time.Sleep(150 * time.Millisecond)

	// The refresh is held in the origin until every hit has been answered.
	o.gate = make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r := mustGet(t, e.c, ctx, q, o.load)
			if !r.Stale || r.Source != cache.SourceCache || r.ExpiresIn() != 0 || r.ID != first.ID {
				t.Errorf("during the refresh: got stale=%v source=%v expiresIn=%d; want the stale copy with 0", r.Stale, r.Source, r.ExpiresIn())
			}
		})
	}
	wg.Wait()
	close(o.gate)
	r := eventuallyFresh(t, e.c, q, o.load)
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin calls = %d; want 2 (the fill and exactly one refresh)", got)
	}
	if r.Stale || r.Source != cache.SourceCache || !r.CachedAt.After(first.CachedAt) {
		t.Errorf("after the refresh: got stale=%v source=%v cachedAt=%v; want the refreshed entry", r.Stale, r.Source, r.CachedAt)
	}
}

func TestStaleIfError(t *testing.T) {
	e := newCache(t, cache.Options{Stale: 10 * time.Second})
	o := &origin{}
	ctx := context.Background()
	q := withTTL(dataQuery, 100*time.Millisecond)
	first := mustGet(t, e.c, ctx, q, o.load)
	time.Sleep(150 * time.Millisecond)
	o.fail.Store(true)

	// A client's revalidation reaches the failing origin; the stale copy answers.
	r := mustGet(t, e.c, cache.WithRevalidate(ctx), q, o.load)
	if !r.Stale || r.ID != first.ID {
		t.Errorf("revalidation with the origin down: got stale=%v id=%d; want the stale copy", r.Stale, r.ID)
	}
	r = mustGet(t, e.c, ctx, q, o.load)
	if !r.Stale || r.ID != first.ID {
		t.Errorf("with the origin down: got stale=%v id=%d; want the stale copy", r.Stale, r.ID)
	}
	o.fail.Store(false)
	if r := eventuallyFresh(t, e.c, q, o.load); r.ID == first.ID {
		t.Error("after the origin healed: the old entry; want a new one")
	}
}

// eventuallyFresh reads q until a background refresh has replaced its stale
// entry, and returns the fresh answer.
func eventuallyFresh(t *testing.T, c *cache.Cache, q cache.Query, load cache.Loader) cache.Result {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := mustGet(t, c, context.Background(), q, load)
		if !r.Stale {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("still stale after 5s; want the background refresh to have stored a fresh entry")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOriginErrorWithoutStaleCopy(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	o.fail.Store(true)
	ctx := context.Background()
	_, err := e.c.Get(ctx, dataQuery, o.load)
	if !errors.Is(err, cache.ErrOriginUnavailable) {
		t.Fatalf("got %v; want ErrOriginUnavailable", err)
	}
	o.fail.Store(false)
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceOrigin {
		t.Errorf("after the origin healed: source %v; want the origin (errors are never cached)", r.Source)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
		t.Errorf("next: source %v; want the cache (the good answer is stored)", r.Source)
	}
	if got := e.metric(t, "gqlcache_origin_errors_total"); got != 1 {
		t.Errorf("gqlcache_origin_errors_total = %v; want 1", got)
	}
}

func TestOriginTimeout(t *testing.T) {
	e := newCache(t, cache.Options{OriginTimeout: 50 * time.Millisecond})
	o := &origin{delay: 5 * time.Second}
	start := time.Now()
	_, err := e.c.Get(context.Background(), dataQuery, o.load)
	if !errors.Is(err, cache.ErrOriginTimeout) {
		t.Fatalf("got %v; want ErrOriginTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %v; want about 50ms", d)
	}
}

func TestInvalidate(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, e.c, ctx, dataQuery, o.load)
	if existed, err := e.c.Invalidate(ctx, dataQuery); err != nil || !existed {
		t.Fatalf("Invalidate: got %v, %v; want true", existed, err)
	}
	r := mustGet(t, e.c, ctx, dataQuery, o.load)
	if r.Source != cache.SourceOrigin || r.ID == first.ID {
		t.Errorf("after Invalidate: source %v; want a new answer from the origin", r.Source)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
		t.Errorf("next: source %v; want the cache", r.Source)
	}
	if existed, _ := e.c.Invalidate(ctx, withArgs(dataQuery, "nothing here")); existed {
		t.Error("Invalidate of a query never cached: got true; want false")
	}
}

func withArgs(q cache.Query, query string) cache.Query {
	q.Args = map[string]any{"query": query}
	return q
}

// TestFillCannotOutliveInvalidation forces the race: a fill is at the origin
// when the invalidation lands. Its answer predates the invalidation, so it
// may go to the caller that asked but must not be stored.
func TestFillCannotOutliveInvalidation(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	ctx := context.Background()
	filled := make(chan cache.Result, 1)
	go func() { filled <- mustGet(t, e.c, ctx, dataQuery, o.load) }()
	<-o.entered
	if _, err := e.c.Invalidate(ctx, dataQuery); err != nil {
		t.Fatal(err)
	}
	close(o.gate)
	if r := <-filled; r.Stored {
		t.Error("the fill that raced with the invalidation: Stored = true; want false")
	}
	o.gate = nil
	o.entered = nil
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceOrigin {
		t.Errorf("after the invalidation: source %v; want the origin (the older answer must not be served)", r.Source)
	}
}

func TestPrivateScope(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	q := dataQuery
	q.Policy.Scope = cache.ScopePrivate
	alice := cache.WithCaller(context.Background(), "Bearer alice")
	bob := cache.WithCaller(context.Background(), "Bearer bob")

	a := mustGet(t, e.c, alice, q, o.load)
	if r := mustGet(t, e.c, bob, q, o.load); r.Source != cache.SourceOrigin || r.ID == a.ID {
		t.Errorf("bob after alice: got source %v; want his own answer from the origin", r.Source)
	}
	if r := mustGet(t, e.c, alice, q, o.load); r.Source != cache.SourceCache || r.ID != a.ID {
		t.Errorf("alice again: got source %v; want her stored answer", r.Source)
	}
	for range 2 {
		if r := mustGet(t, e.c, context.Background(), q, o.load); r.Source != cache.SourceOrigin || r.Stored {
			t.Errorf("no caller: got source %v stored %v; want an unstored origin answer", r.Source, r.Stored)
		}
	}
	// Public entries never vary by caller.
	p := mustGet(t, e.c, alice, dataQuery, o.load)
	if r := mustGet(t, e.c, bob, dataQuery, o.load); r.Source != cache.SourceCache || r.ID != p.ID {
		t.Errorf("public field, another caller: got source %v; want alice's stored answer", r.Source)
	}
}

func TestRevalidateFetchesAndStores(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, e.c, ctx, dataQuery, o.load)
	r := mustGet(t, e.c, cache.WithRevalidate(ctx), dataQuery, o.load)
	if r.Source != cache.SourceOrigin || r.ID == first.ID || !r.Stored {
		t.Fatalf("revalidation: got source %v stored %v; want a stored origin answer", r.Source, r.Stored)
	}
	if next := mustGet(t, e.c, ctx, dataQuery, o.load); next.ID != r.ID {
		t.Errorf("after revalidation: got entry %d; want the revalidated one %d", next.ID, r.ID)
	}
}

func TestZeroTTLIsNeverStored(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{}
	for range 2 {
		if r := mustGet(t, e.c, context.Background(), withTTL(dataQuery, 0), o.load); r.Stored || r.Source != cache.SourceOrigin {
			t.Errorf("TTL 0: got stored %v source %v; want an unstored origin answer", r.Stored, r.Source)
		}
	}
}

func TestInvalidJSONFromOriginIsAnError(t *testing.T) {
	e := newCache(t, cache.Options{})
	_, err := e.c.Get(context.Background(), dataQuery, func(context.Context) (cache.Fetched, error) {
		return cache.Fetched{Data: []byte(`{"truncated":`)}, nil
	})
	if !errors.Is(err, cache.ErrOriginUnavailable) {
		t.Errorf("got %v; want ErrOriginUnavailable", err)
	}
}

func TestCorruptEntryIsAMissAndOverwritten(t *testing.T) {
	url, prefix := redistest.Shared(t)
	rdb := redisClient(t, url)
	e := newCacheOn(t, cache.NewRedisStore(rdb, "test"), cache.Options{Prefix: prefix})
	o := &origin{}
	ctx := context.Background()
	mustGet(t, e.c, ctx, dataQuery, o.load)
	keys, err := rdb.Keys(ctx, prefix+":*").Result() // the test's own prefix only
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys under the test prefix: %v, %v; want one", keys, err)
	}
	if err := rdb.Set(ctx, keys[0], "not an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceOrigin || !r.Stored {
		t.Errorf("over a corrupt value: got source %v stored %v; want a stored origin answer", r.Source, r.Stored)
	}
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
		t.Errorf("next: source %v; want the cache", r.Source)
	}
	if got := e.metric(t, "gqlcache_cache_corrupt_entries_total"); got < 1 {
		t.Errorf("gqlcache_cache_corrupt_entries_total = %v; want at least 1", got)
	}
	ttl, err := rdb.PTTL(ctx, keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("stored key's TTL = %v, %v; want at most the 1m freshness", ttl, err)
	}
}

func TestRedisDownFailsOpen(t *testing.T) {
	srv := redistest.Start(t)
	e := newCacheOn(t, cache.NewRedisStore(redisClient(t, srv.URL()), "test"), cache.Options{
		Prefix: redistest.Prefix(t), BreakerCooldown: 200 * time.Millisecond,
	})
	o := &origin{}
	ctx := context.Background()
	mustGet(t, e.c, ctx, dataQuery, o.load)
	srv.Kill()

	for i := range 20 {
		r, err := e.c.Get(ctx, dataQuery, o.load)
		if err != nil {
			t.Fatalf("request %d with Redis down: %v; want an answer from the origin", i, err)
		}
		if r.Source != cache.SourceOrigin {
			t.Errorf("request %d with Redis down: source %v; want the origin", i, r.Source)
		}
	}
	if got := e.metric(t, "gqlcache_store_breaker_open"); got != 1 {
		t.Errorf("gqlcache_store_breaker_open = %v; want 1 while Redis is down", got)
	}
	if got := e.metric(t, "gqlcache_store_errors_total"); got == 0 {
		t.Error("gqlcache_store_errors_total = 0; want the outage counted")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := mustGet(t, e.c, ctx, dataQuery, o.load)
		if r.Source == cache.SourceCache {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cache hit within 10s of Redis coming back; want hits to resume without a restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.metric(t, "gqlcache_store_breaker_open"); got != 0 {
		t.Errorf("gqlcache_store_breaker_open = %v after recovery; want 0", got)
	}
}

// TestLeaseCoalescesAcrossProcesses stands three caches (as three service
// processes would be) on one Redis: a burst of misses on all of them reaches
// the origin once.
func TestLeaseCoalescesAcrossProcesses(t *testing.T) {
	url, prefix := redistest.Shared(t)
	o := &origin{delay: 200 * time.Millisecond}
	var caches []env
	for range 3 {
		caches = append(caches, newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), cache.Options{Prefix: prefix}))
	}
	var wg sync.WaitGroup
	for _, e := range caches {
		for range 50 {
			wg.Go(func() { mustGet(t, e.c, context.Background(), dataQuery, o.load) })
		}
	}
	wg.Wait()
	if got := o.calls.Load(); got != 1 {
		t.Errorf("origin calls = %d; want 1", got)
	}
	var waits float64
	for _, e := range caches {
		waits += e.metric(t, "gqlcache_cache_lease_waits_total")
	}
	if waits != 2 {
		t.Errorf("lease waits = %v; want 2 (one per process that did not hold the lease)", waits)
	}
}

func TestMemoryStoreServesAsEmbeddedDefault(t *testing.T) {
	s, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e := newCacheOn(t, s, cache.Options{})
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, e.c, ctx, withTTL(dataQuery, 200*time.Millisecond), o.load)
	if r := mustGet(t, e.c, ctx, withTTL(dataQuery, 200*time.Millisecond), o.load); r.Source != cache.SourceCache || r.ID != first.ID {
		t.Errorf("second Get: source %v; want the stored answer", r.Source)
	}
	time.Sleep(250 * time.Millisecond)
	if r := mustGet(t, e.c, ctx, withTTL(dataQuery, 200*time.Millisecond), o.load); r.Source != cache.SourceOrigin {
		t.Errorf("after the TTL: source %v; want the origin", r.Source)
	}
}

func TestOversizedAnswerIsServedNotStored(t *testing.T) {
	e := newCache(t, cache.Options{MaxEntryBytes: 64})
	big := func(context.Context) (cache.Fetched, error) {
		return cache.Fetched{Data: []byte(`"` + strings.Repeat("x", 100) + `"`)}, nil
	}
	for range 2 {
		r := mustGet(t, e.c, context.Background(), dataQuery, big)
		if r.Source != cache.SourceOrigin || r.Stored || len(r.Data) != 102 {
			t.Errorf("oversized answer: got source %v stored %v, %d bytes; want it served from the origin, unstored", r.Source, r.Stored, len(r.Data))
		}
	}
	if got := e.metric(t, "gqlcache_cache_oversized_total"); got != 2 {
		t.Errorf("gqlcache_cache_oversized_total = %v; want 2", got)
	}
}

func TestPanickingOriginIsAnOriginError(t *testing.T) {
	e := newCache(t, cache.Options{})
	_, err := e.c.Get(context.Background(), dataQuery, func(context.Context) (cache.Fetched, error) { panic("boom") })
	if !errors.Is(err, cache.ErrOriginUnavailable) {
		t.Errorf("got %v; want ErrOriginUnavailable (and the process still running)", err)
	}
}
