package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
)

// notFoundOrigin answers that the item does not exist, counting calls.
type notFoundOrigin struct{ calls atomic.Int64 }

func (o *notFoundOrigin) load(context.Context) (cache.Fetched, error) {
	o.calls.Add(1)
	return cache.Fetched{NotFound: true}, nil
}

// clock is a test clock that moves only when told.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestNotFoundIsCachedBriefly(t *testing.T) {
	for _, tc := range []struct {
		name             string
		negativeTTL, ttl time.Duration
		wantLife         time.Duration
	}{
		{"NegativeTTL below the field's TTL", time.Minute, time.Hour, time.Minute},
		{"never longer than the field's TTL", time.Hour, time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clk clock
			clk.Advance(time.Duration(time.Now().UnixNano()))
			e := newCache(t, cache.Options{NegativeTTL: tc.negativeTTL, Stale: time.Hour, Now: clk.Now})
			o := &notFoundOrigin{}
			q := withTTL(dataQuery, tc.ttl)
			get := func() error {
				_, err := e.c.Get(context.Background(), q, o.load)
				return err
			}
			for i := range 20 {
				if err := get(); !errors.Is(err, cache.ErrOriginNotFound) {
					t.Fatalf("request %d: got %v; want ErrOriginNotFound", i, err)
				}
			}
			clk.Advance(tc.wantLife - time.Second)
			if err := get(); !errors.Is(err, cache.ErrOriginNotFound) || o.calls.Load() != 1 {
				t.Errorf("21 requests within %v: got %v with %d origin calls; want ErrOriginNotFound from 1", tc.wantLife, err, o.calls.Load())
			}
			if n := e.metric(t, "gqlcache_cache_not_found_total"); n != 21 {
				t.Errorf("not-found answers counted = %v; want 21", n)
			}
			// Past its life a negative entry is a miss, never served stale.
			clk.Advance(2 * time.Second)
			if err := get(); !errors.Is(err, cache.ErrOriginNotFound) || o.calls.Load() != 2 {
				t.Errorf("after %v: got %v with %d calls; want ErrOriginNotFound from a second call", tc.wantLife, err, o.calls.Load())
			}
		})
	}
}

func TestInvalidateRemovesANegativeEntry(t *testing.T) {
	e := newCache(t, cache.Options{NegativeTTL: time.Minute})
	o := &notFoundOrigin{}
	ctx := context.Background()
	if _, err := e.c.Get(ctx, dataQuery, o.load); !errors.Is(err, cache.ErrOriginNotFound) {
		t.Fatalf("got %v; want ErrOriginNotFound", err)
	}
	if existed, err := e.c.Invalidate(ctx, dataQuery); err != nil || !existed {
		t.Fatalf("Invalidate = %v, %v; want true, nil", existed, err)
	}
	found := &origin{}
	if r := mustGet(t, e.c, ctx, dataQuery, found.load); r.Source != cache.SourceOrigin || found.calls.Load() != 1 {
		t.Errorf("after invalidation: got source %v with %d calls; want the origin's new answer", r.Source, found.calls.Load())
	}
}

// gauge is an origin that holds every call until released, recording the
// most calls it ever had under way at once.
type gauge struct {
	mu       sync.Mutex
	now, max int
	calls    atomic.Int64
	release  chan struct{}
}

func (g *gauge) load(ctx context.Context) (cache.Fetched, error) {
	g.calls.Add(1)
	g.mu.Lock()
	g.now++
	g.max = max(g.max, g.now)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-ctx.Done():
		return cache.Fetched{}, ctx.Err()
	}
	return cache.Fetched{Data: []byte(`"ok"`)}, nil
}

func TestOriginConcurrencyIsBounded(t *testing.T) {
	e := newCache(t, cache.Options{OriginMaxInflight: 3, OriginQueueWait: 50 * time.Millisecond})
	ctx := context.Background()
	warm := withArgs(dataQuery, "warm")
	mustGet(t, e.c, ctx, warm, (&origin{}).load)

	g := &gauge{release: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			_, err := e.c.Get(ctx, withArgs(dataQuery, fmt.Sprint("cold-", i)), g.load)
			errs <- err
		})
	}
	// Refusals come after the queue wait; the three admitted calls are held.
	deadline := time.Now().Add(5 * time.Second)
	for e.metric(t, "gqlcache_origin_refusals_total") < 7 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := e.metric(t, "gqlcache_origin_inflight"); n != 3 {
		t.Errorf("origin_inflight gauge with every slot taken = %v; want 3", n)
	}
	// A hit never queues behind misses: one that did would be refused, since
	// no slot frees before the gate opens.
	if r := mustGet(t, e.c, ctx, warm, (&origin{}).load); r.Source != cache.SourceCache {
		t.Errorf("warm key with every slot taken: source %v; want a hit", r.Source)
	}
	close(g.release)
	wg.Wait()
	close(errs)
	var ok, busy int
	for err := range errs {
		secs, retry := cache.RetryAfter(err)
		switch {
		case err == nil:
			ok++
		case errors.Is(err, cache.ErrOriginBusy) && retry && secs == 1:
			busy++
		default:
			t.Errorf("got %v (retry after %d, %v); want nil or ErrOriginBusy with a Retry-After of 1s", err, secs, retry)
		}
	}
	if ok != 3 || busy != 7 || g.max != 3 || g.calls.Load() != 3 {
		t.Errorf("10 misses with 3 slots: %d answered, %d busy, %d origin calls, at most %d at once; want 3, 7, 3, 3", ok, busy, g.calls.Load(), g.max)
	}
	if n := e.metric(t, "gqlcache_origin_inflight"); n != 0 {
		t.Errorf("origin_inflight gauge after the calls = %v; want 0", n)
	}
	// Refusing for want of a slot says nothing about the origin's health.
	if got := e.c.OriginBreaker(); got != "closed" {
		t.Errorf("origin breaker after 7 busy refusals: %q; want closed", got)
	}
}

func TestBusyOriginServesStaleCopy(t *testing.T) {
	e := newCache(t, cache.Options{OriginMaxInflight: 1, OriginQueueWait: 20 * time.Millisecond, Stale: time.Minute})
	ctx := context.Background()
	q := withTTL(withArgs(dataQuery, "stale"), 50*time.Millisecond)
	first := mustGet(t, e.c, ctx, q, (&origin{}).load)
	time.Sleep(80 * time.Millisecond)

	g := &gauge{release: make(chan struct{})}
	held := make(chan error, 1)
	go func() {
		_, err := e.c.Get(ctx, withArgs(dataQuery, "other"), g.load)
		held <- err
	}()
	for g.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// A revalidation must reach the origin, finds no slot, and gets the stale copy.
	r, err := e.c.Get(cache.WithRevalidate(ctx), q, (&origin{}).load)
	if err != nil || !r.Stale || r.ID != first.ID {
		t.Errorf("busy origin with a stale copy: got stale=%v id=%d, %v; want the stale copy", r.Stale, r.ID, err)
	}
	close(g.release)
	if err := <-held; err != nil {
		t.Errorf("held call: %v", err)
	}
}

// pausing is an origin that asks for a pause of after on its first call
// and answers afterwards.
type pausing struct {
	after time.Duration
	calls atomic.Int64
}

func (o *pausing) load(context.Context) (cache.Fetched, error) {
	if o.calls.Add(1) == 1 {
		return cache.Fetched{}, &cache.RetryAfterError{After: o.after, Err: errors.New("503")}
	}
	return cache.Fetched{Data: []byte(`"back"`)}, nil
}

func TestRetryAfterPausesTheOrigin(t *testing.T) {
	var clk clock
	clk.Advance(time.Duration(time.Now().UnixNano()))
	e := newCache(t, cache.Options{Now: clk.Now})
	ctx := context.Background()
	o := &pausing{after: 30 * time.Second}
	_, err := e.c.Get(ctx, dataQuery, o.load)
	if secs, ok := cache.RetryAfter(err); !errors.Is(err, cache.ErrOriginUnavailable) || !ok || secs != 30 {
		t.Fatalf("the origin's 503: got %v (retry after %d); want ErrOriginUnavailable, retry after 30s", err, secs)
	}
	// Every miss, for any key, is refused until the pause ends, told what is left of it.
	for _, tc := range []struct {
		advance time.Duration
		left    int
	}{{0, 30}, {10 * time.Second, 20}, {19500 * time.Millisecond, 1}} {
		clk.Advance(tc.advance)
		_, err := e.c.Get(ctx, withArgs(dataQuery, fmt.Sprint("k", tc.left)), o.load)
		if secs, _ := cache.RetryAfter(err); !errors.Is(err, cache.ErrOriginUnavailable) || secs != tc.left {
			t.Errorf("%ds before the pause ends: got %v (retry after %d); want a refusal, retry after %d", tc.left, err, secs, tc.left)
		}
	}
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls during the pause = %d; want 1", n)
	}
	clk.Advance(time.Second)
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); string(r.Data) != `"back"` || o.calls.Load() != 2 {
		t.Errorf("after the pause: got %s with %d calls; want the origin's answer from a second call", r.Data, o.calls.Load())
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	e := newCache(t, cache.Options{})
	_, err := e.c.Get(context.Background(), dataQuery, (&pausing{after: 24 * time.Hour}).load)
	if secs, _ := cache.RetryAfter(err); secs != int(cache.MaxRetryAfter/time.Second) {
		t.Errorf("Retry-After of a day: got a pause of %ds; want %v", secs, cache.MaxRetryAfter)
	}
}

func TestOriginBreakerRefusesFastAndProbesOneAtATime(t *testing.T) {
	e := newCache(t, cache.Options{OriginBreakerFailures: 3, OriginBreakerCooldown: time.Second, OriginTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	dead := &origin{delay: 5 * time.Second} // every call times out
	for i := range 3 {
		if _, err := e.c.Get(ctx, withArgs(dataQuery, fmt.Sprint("t", i)), dead.load); !errors.Is(err, cache.ErrOriginTimeout) {
			t.Fatalf("call %d: got %v; want ErrOriginTimeout", i, err)
		}
	}
	start := time.Now()
	_, err := e.c.Get(ctx, withArgs(dataQuery, "open"), dead.load)
	if secs, ok := cache.RetryAfter(err); !errors.Is(err, cache.ErrOriginUnavailable) || !ok || secs != 1 || time.Since(start) > 150*time.Millisecond {
		t.Errorf("breaker open: got %v (retry after %d) after %v; want ErrOriginUnavailable at once, not after the 300ms timeout", err, secs, time.Since(start))
	}
	if n := dead.calls.Load(); n != 3 {
		t.Errorf("origin calls = %d; want 3 (none while open)", n)
	}
	if got := e.c.OriginBreaker(); got != "open" || e.metric(t, "gqlcache_origin_breaker_open") != 1 {
		t.Errorf("breaker state %q; want open, with the gauge at 1", got)
	}

	time.Sleep(1100 * time.Millisecond)
	probe := &origin{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	probed := make(chan error, 1)
	go func() {
		_, err := e.c.Get(ctx, withArgs(dataQuery, "probe"), probe.load)
		probed <- err
	}()
	<-probe.entered
	// Bounded, so that a second probe held at the gate fails the test instead of hanging it.
	during, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := e.c.Get(during, withArgs(dataQuery, "second"), probe.load); !errors.Is(err, cache.ErrOriginUnavailable) {
		t.Errorf("during the probe: got %v; want a refusal (one probe at a time)", err)
	}
	close(probe.gate)
	if err := <-probed; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if got := e.c.OriginBreaker(); got != "closed" {
		t.Errorf("after a good probe: breaker %q; want closed", got)
	}
	if _, err := e.c.Get(ctx, withArgs(dataQuery, "second"), probe.load); err != nil || probe.calls.Load() != 2 {
		t.Errorf("after closing: got %v with %d calls; want an answer from the origin", err, probe.calls.Load())
	}
}

func TestNotFoundDoesNotOpenTheBreaker(t *testing.T) {
	e := newCache(t, cache.Options{OriginBreakerFailures: 2})
	o := &notFoundOrigin{}
	for i := range 5 {
		if _, err := e.c.Get(context.Background(), withArgs(dataQuery, fmt.Sprint("missing-", i)), o.load); !errors.Is(err, cache.ErrOriginNotFound) {
			t.Fatalf("got %v; want ErrOriginNotFound", err)
		}
	}
	if got := e.c.OriginBreaker(); got != "closed" || o.calls.Load() != 5 {
		t.Errorf("after 5 not-found answers: breaker %q, %d calls; want closed, 5", got, o.calls.Load())
	}
}
