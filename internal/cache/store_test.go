package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// redisClient connects to url for the test's lifetime, with the short
// timeouts the service uses.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestStoreContract holds both stores to the same contract: the cache's
// correctness (conditional fills, invalidation, leases) rests on it.
func TestStoreContract(t *testing.T) {
	stores := map[string]func(t *testing.T) (cache.Store, string){
		"memory": func(t *testing.T) (cache.Store, string) {
			s, err := cache.NewMemoryStore(1000)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s, redistest.Prefix(t)
		},
		"redis": func(t *testing.T) (cache.Store, string) {
			url, prefix := redistest.Shared(t)
			return cache.NewRedisStore(redisClient(t, url), "test"), prefix
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, p := open(t)
			k := p + ":k"
			if _, err := s.Get(ctx, k); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("Get of an absent key: got %v; want ErrNotFound", err)
			}
			first := []byte("0123456789AB-first")
			if ok, err := s.CompareAndSet(ctx, k, []byte("0123456789AB"), first, time.Minute); err != nil || ok {
				t.Fatalf("CompareAndSet on an absent key with a stamp: got %v, %v; want false", ok, err)
			}
			if ok, err := s.CompareAndSet(ctx, k, nil, first, time.Minute); err != nil || !ok {
				t.Fatalf("CompareAndSet on an absent key with no stamp: got %v, %v; want true", ok, err)
			}
			if got, err := s.Get(ctx, k); err != nil || string(got) != string(first) {
				t.Fatalf("Get: got %q, %v; want %q", got, err, first)
			}
			second := []byte("ZYXWVUTSRQPO-second")
			if ok, _ := s.CompareAndSet(ctx, k, nil, second, time.Minute); ok {
				t.Error("CompareAndSet with no stamp over a stored value: got true; want false")
			}
			if ok, _ := s.CompareAndSet(ctx, k, first[:12], second, time.Minute); !ok {
				t.Error("CompareAndSet with the stored value's stamp: got false; want true")
			}
			if existed, err := s.Replace(ctx, k, []byte("tomb"), time.Minute); err != nil || !existed {
				t.Errorf("Replace over a value: got %v, %v; want true", existed, err)
			}
			if existed, err := s.Replace(ctx, p+":other", []byte("tomb"), time.Minute); err != nil || existed {
				t.Errorf("Replace of an absent key: got %v, %v; want false", existed, err)
			}

			short := p + ":short"
			if _, err := s.Replace(ctx, short, []byte("v"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(120 * time.Millisecond)
			if _, err := s.Get(ctx, short); !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("Get after the ttl: got %v; want ErrNotFound", err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func TestRedisLeaseIsExclusive(t *testing.T) {
	ctx := context.Background()
	url, p := redistest.Shared(t)
	s := cache.NewRedisStore(redisClient(t, url), "test")
	lease := p + ":lease"
	if ok, err := s.Lease(ctx, lease, "a", time.Minute); err != nil || !ok {
		t.Fatalf("first Lease: got %v, %v; want true", ok, err)
	}
	if ok, _ := s.Lease(ctx, lease, "b", time.Minute); ok {
		t.Fatal("second Lease while held: got true; want false")
	}
	if err := s.Release(ctx, lease, "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Lease(ctx, lease, "b", time.Minute); ok {
		t.Fatal("Lease after a release by a non-holder: got true; want false (the holder keeps it)")
	}
	if err := s.Release(ctx, lease, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Lease(ctx, lease, "b", time.Minute); !ok {
		t.Fatal("Lease after the holder released: got false; want true")
	}
}
