package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

func TestShutdownWaitsForFillsInFlight(t *testing.T) {
	e := newCache(t, cache.Options{})
	o := &origin{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	got := make(chan cache.Result, 1)
	go func() { got <- mustGet(t, e.c, context.Background(), dataQuery, o.load) }()
	<-o.entered

	done := make(chan error, 1)
	go func() { done <- e.c.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a fill was in flight; want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(o.gate)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v; want nil once the fill ended", err)
	}
	if r := <-got; r.Source != cache.SourceOrigin || !r.Stored {
		t.Errorf("the fill in flight: source %v, stored %v; want the origin's answer, stored", r.Source, r.Stored)
	}

	if r := mustGet(t, e.c, context.Background(), dataQuery, o.load); r.Source != cache.SourceCache {
		t.Errorf("a hit after Shutdown: source %v; want the cache", r.Source)
	}
	if _, err := e.c.Get(context.Background(), withArgs(dataQuery, "other"), o.load); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("a miss after Shutdown: got %v; want ErrClosed", err)
	}
	if calls := o.calls.Load(); calls != 1 {
		t.Errorf("origin calls = %d; want 1 (none after Shutdown)", calls)
	}
}

// TestShutdownGivesLeasesBack: a process that cannot wait for its fill
// must not leave the key's lease for the others to wait out.
func TestShutdownGivesLeasesBack(t *testing.T) {
	url, prefix := redistest.Shared(t)
	// With an hour's lease, the other process can fill the key within the
	// test only if the lease was given back.
	opts := cache.Options{Prefix: prefix, LeaseTTL: time.Hour, OriginTimeout: time.Hour}
	leaving := newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), opts)
	staying := newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), opts)

	entered := make(chan struct{})
	hung := func(ctx context.Context) (cache.Fetched, error) {
		close(entered)
		<-ctx.Done()
		return cache.Fetched{}, ctx.Err()
	}
	failed := make(chan error, 1)
	go func() {
		_, err := leaving.c.Get(context.Background(), dataQuery, hung)
		failed <- err
	}()
	<-entered
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := leaving.c.Shutdown(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown past its deadline: got %v; want its context's error", err)
	}
	if err := <-failed; !errors.Is(err, cache.ErrOriginUnavailable) {
		t.Errorf("the fill cut short: got %v; want ErrOriginUnavailable", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := &origin{}
	if _, err := staying.c.Get(ctx, dataQuery, o.load); err != nil || o.calls.Load() != 1 {
		t.Errorf("the other process: Get = %v after %d origin calls; want it to fill the key itself", err, o.calls.Load())
	}
}
