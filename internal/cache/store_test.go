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
			s, err := cache.NewMemoryStore(1 << 20)
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
			if ok, err := s.Fill(ctx, k, []byte("0123456789AB"), first, time.Minute, ""); err != nil || ok {
				t.Fatalf("Fill of an absent key with a stamp: got %v, %v; want false", ok, err)
			}
			if ok, err := s.Fill(ctx, k, nil, first, time.Minute, ""); err != nil || !ok {
				t.Fatalf("Fill of an absent key with no stamp: got %v, %v; want true", ok, err)
			}
			if got, err := s.Get(ctx, k); err != nil || string(got) != string(first) {
				t.Fatalf("Get: got %q, %v; want %q", got, err, first)
			}
			if cl, err := s.Claim(ctx, k, "tok", time.Minute); err != nil || string(cl.Value) != string(first) {
				t.Fatalf("Claim: got %q, %v; want the stored value", cl.Value, err)
			}
			second := []byte("ZYXWVUTSRQPO-second")
			if ok, _ := s.Fill(ctx, k, nil, second, time.Minute, "tok"); ok {
				t.Error("Fill with no stamp over a stored value: got true; want false")
			}
			if ok, _ := s.Fill(ctx, k, first[:12], second, time.Minute, "tok"); !ok {
				t.Error("Fill with the stored value's stamp: got false; want true")
			}
			if cl, err := s.Claim(ctx, p+":absent", "tok", time.Minute); err != nil || cl.Value != nil || !cl.Leased {
				t.Errorf("Claim of an absent, unleased key: got %+v, %v; want no value and the lease", cl, err)
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
	ttl, err := redisClient(t, url).PTTL(ctx, k+":lease").Result()
	if err != nil || ttl <= 0 {
		t.Errorf("lease TTL = %v, %v; want it to expire by itself", ttl, err)
	}
}
