package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// twoProcesses stands two caches with near caches on one Redis and one
// prefix, as two service processes would be.
func twoProcesses(t *testing.T, nearTTL time.Duration) (a, b env) {
	t.Helper()
	url, prefix := redistest.Shared(t)
	open := func() env {
		return newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), cache.Options{Prefix: prefix, NearTTL: nearTTL})
	}
	// cache.New returns with its announcements flowing: no waiting here.
	return open(), open()
}

func TestNearCacheAnswersHotKeysInProcess(t *testing.T) {
	a, _ := twoProcesses(t, time.Minute)
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, a.c, ctx, dataQuery, o.load)
	for range 10 {
		r := mustGet(t, a.c, ctx, dataQuery, o.load)
		if r.Source != cache.SourceCache || r.ID != first.ID || !r.CachedAt.Equal(first.CachedAt) {
			t.Fatalf("got %v %d; want the stored entry", r.Source, r.ID)
		}
		if r.ExpiresIn() > 60 || r.ExpiresIn() < 59 {
			t.Errorf("ExpiresIn = %d from the near cache; want the entry's own 59-60", r.ExpiresIn())
		}
	}
	if got := a.metric(t, "gqlcache_cache_near_hits_total"); got != 10 {
		t.Errorf("near hits = %v; want 10 (every hit after the fill)", got)
	}
}

func TestInvalidationReachesAnotherProcessesNearCache(t *testing.T) {
	a, b := twoProcesses(t, time.Minute)
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, a.c, ctx, dataQuery, o.load)
	if r := mustGet(t, b.c, ctx, dataQuery, o.load); r.ID != first.ID {
		t.Fatal("b did not read a's entry")
	}
	mustGet(t, b.c, ctx, dataQuery, o.load) // now from b's near cache
	if b.metric(t, "gqlcache_cache_near_hits_total") != 1 {
		t.Fatal("b's second read did not come from its near cache")
	}

	start := time.Now()
	if _, err := a.c.Invalidate(ctx, dataQuery); err != nil {
		t.Fatal(err)
	}
	for {
		r := mustGet(t, b.c, ctx, dataQuery, o.load)
		if r.ID != first.ID {
			t.Logf("the invalidation reached the other process's near cache in %v", time.Since(start))
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("b still serves the invalidated entry after 5s; want it dropped at once (the near TTL is a minute)")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRevalidationReachesAnotherProcessesNearCache(t *testing.T) {
	a, b := twoProcesses(t, time.Minute)
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, a.c, ctx, dataQuery, o.load)
	mustGet(t, b.c, ctx, dataQuery, o.load)
	newer := mustGet(t, a.c, cache.WithRevalidate(ctx), dataQuery, o.load)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := mustGet(t, b.c, ctx, dataQuery, o.load)
		if r.ID == newer.ID {
			break
		}
		if r.ID != first.ID || time.Now().After(deadline) {
			t.Fatalf("b serves entry %d; want a's newer %d within 5s", r.ID, newer.ID)
		}
		time.Sleep(time.Millisecond)
	}
	if got := o.calls.Load(); got != 2 {
		t.Errorf("origin calls = %d; want 2 (b took a's new entry)", got)
	}
}

func TestNearCacheHoldsACopyAtMostItsTTL(t *testing.T) {
	url, prefix := redistest.Shared(t)
	rdb := redisClient(t, url)
	e := newCacheOn(t, cache.NewRedisStore(rdb, "test"), cache.Options{Prefix: prefix, NearTTL: 100 * time.Millisecond})
	o := &origin{}
	ctx := context.Background()
	first := mustGet(t, e.c, ctx, dataQuery, o.load)
	// An edit behind the service's back (no announcement) shows once the
	// near copy's hold ends, because then Redis is read again.
	keys := rdb.Keys(ctx, prefix+":v2:{*}").Val() // the test's own prefix
	if len(keys) != 1 {
		t.Fatalf("keys: %v", keys)
	}
	rdb.Del(ctx, keys[0])
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.ID != first.ID {
		t.Fatal("the near copy was not used")
	}
	time.Sleep(150 * time.Millisecond)
	if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.ID == first.ID {
		t.Error("after the near TTL: still the old copy; want Redis read again")
	}
}

// unannounced is a Redis store whose announcements never reach this
// process, so that what its near cache still holds is the cache's own doing.
type unannounced struct{ *cache.RedisStore }

func (s unannounced) Changes(ctx context.Context, channel string, _ func(key string, nonce uint64), reset func()) {
	s.RedisStore.Changes(ctx, channel, func(string, uint64) {}, reset)
}

// TestPurgeDropsOwnNearCopiesAtOnce purges a tag on the process whose near
// cache holds an entry carrying it: the next request on that process must
// see the purge, without waiting for the purge's announcement to come back
// from Redis (here it never does).
func TestPurgeDropsOwnNearCopiesAtOnce(t *testing.T) {
	for _, soft := range []bool{false, true} {
		t.Run(map[bool]string{false: "hard", true: "soft"}[soft], func(t *testing.T) {
			url, prefix := redistest.Shared(t)
			s := unannounced{cache.NewRedisStore(redisClient(t, url), "test")}
			e := newCacheOn(t, s, cache.Options{Prefix: prefix, NearTTL: time.Minute, Stale: time.Minute})
			o := &origin{tags: []string{"weather"}}
			ctx := context.Background()
			q := tagged("weather:paris")
			mustGet(t, e.c, ctx, q, o.load)
			mustGet(t, e.c, ctx, q, o.load)
			if got := e.metric(t, "gqlcache_cache_near_hits_total"); got != 1 {
				t.Fatalf("near hits before the purge = %v; want 1", got)
			}

			if _, err := e.c.InvalidateTags(ctx, []string{"weather"}, soft); err != nil {
				t.Fatal(err)
			}
			r := mustGet(t, e.c, ctx, q, o.load)
			if got := e.metric(t, "gqlcache_cache_near_hits_total"); got != 1 {
				t.Errorf("near hits after the purge = %v; want still 1 (the purged copy was served from the near cache)", got)
			}
			switch {
			case !soft && (r.Source != cache.SourceOrigin || string(r.Data) != `{"answer":2}`):
				t.Errorf("after a hard purge: got %s from %v; want {\"answer\":2} from the origin", r.Data, r.Source)
			case soft && (!r.Stale || string(r.Data) != `{"answer":1}`):
				t.Errorf("after a soft purge: got %s, stale %t; want the purged {\"answer\":1} served stale", r.Data, r.Stale)
			}
		})
	}
}
