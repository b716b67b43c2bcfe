package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// redisClient connects to url for the test's lifetime. As in the service,
// the cache's store budget bounds each call through its context; the
// client's own timeouts only bound calls made without one.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = testBudget, testBudget, testBudget
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestStoreContract holds both stores to one contract (storeContract): the
// cache's correctness (conditional fills, invalidation, leases) rests on it.
// The Cluster and Sentinel topologies run it too, in topology_test.go.
func TestStoreContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		s, err := cache.NewMemoryStore(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		storeContract(t, s, false)
	})
	t.Run("redis", func(t *testing.T) {
		url, _ := redistest.Shared(t)
		storeContract(t, cache.NewRedisStore(redisClient(t, url), "test"), true)
	})
}

func TestRedisLeaseIsExclusive(t *testing.T) {
	ctx := context.Background()
	url, p := redistest.Shared(t)
	s := cache.NewRedisStore(redisClient(t, url), "test")
	k := p + ":{k}"
	claim := func(token string) bool {
		t.Helper()
		cl, err := s.Claim(ctx, k, token, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return cl.Leased
	}
	if !claim("a") {
		t.Fatal("first Claim: not leased; want the lease")
	}
	if claim("b") {
		t.Fatal("second Claim while held: leased; want refused")
	}
	if err := s.Release(ctx, k, "b"); err != nil {
		t.Fatal(err)
	}
	if claim("b") {
		t.Fatal("Claim after a release by a non-holder: leased; want refused (the holder keeps it)")
	}
	if _, err := s.Fill(ctx, k, nil, []byte("value-of-a.."), time.Minute, "a"); err != nil {
		t.Fatal(err)
	}
	if !claim("b") {
		t.Fatal("Claim after the holder's Fill: refused; want the lease (Fill frees it)")
	}
	if err := s.Release(ctx, k, "b"); err != nil {
		t.Fatal(err)
	}
	if !claim("c") {
		t.Fatal("Claim after the holder released: refused; want the lease")
	}
	// A process never waits for a lease it left behind; others still do.
	if err := s.Release(ctx, k, "c"); err != nil {
		t.Fatal(err)
	}
	if !claim("p1.x") {
		t.Fatal("Claim of a free lease by p1: refused; want the lease")
	}
	if !claim("p1.y") {
		t.Fatal("Claim by p1 of a lease p1 left behind: refused; want the lease")
	}
	if claim("p2.z") {
		t.Fatal("Claim by p2 of p1's lease: leased; want refused")
	}
	ttl, err := redisClient(t, url).PTTL(ctx, k+":lease").Result()
	if err != nil || ttl <= 0 {
		t.Errorf("lease TTL = %v, %v; want it to expire by itself", ttl, err)
	}
}
