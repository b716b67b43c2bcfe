package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// serviceTimeout is REDIS_TIMEOUT's default: the topology tests run the
// store as the service would.
const serviceTimeout = 100 * time.Millisecond

// openRedis opens rawURL as the service does and closes it at cleanup.
func openRedis(t *testing.T, rawURL string) *cache.RedisStore {
	t.Helper()
	s, err := cache.OpenRedis(rawURL, serviceTimeout)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// storeContract is what every Store must do, checked with every key in a
// hash tag, as the cache's keys are: in a Cluster the two-key scripts may
// only touch one slot. Leases are exclusive only in a store that processes
// share; the memory store grants every one (its process's own coalescing
// already makes one fill per key).
func storeContract(t *testing.T, s cache.Store, shared bool) {
	t.Helper()
	ctx := context.Background()
	p := redistest.Prefix(t)
	key := func(name string) string { return p + ":v2:{" + name + "}" }
	k := key("k")
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
	if cl, err := s.Claim(ctx, k, "tok", time.Minute); err != nil || string(cl.Value) != string(first) || !cl.Leased {
		t.Fatalf("Claim: got %+v, %v; want the stored value and the lease", cl, err)
	}
	if cl, err := s.Claim(ctx, k, "other", time.Minute); err != nil || cl.Leased != !shared {
		t.Fatalf("Claim while leased: got %+v, %v; want leased %v", cl, err, !shared)
	}
	second := []byte("ZYXWVUTSRQPO-second")
	if ok, err := s.Fill(ctx, k, nil, second, time.Minute, "tok"); err != nil || ok {
		t.Errorf("Fill with no stamp over a stored value: got %v, %v; want false", ok, err)
	}
	if ok, err := s.Fill(ctx, k, first[:12], second, time.Minute, "tok"); err != nil || !ok {
		t.Errorf("Fill with the stored value's stamp: got %v, %v; want true", ok, err)
	}
	if cl, err := s.Claim(ctx, k, "other", time.Minute); err != nil || !cl.Leased {
		t.Errorf("Claim after the holder's Fill: got %+v, %v; want the lease (Fill frees it)", cl, err)
	}
	if err := s.Release(ctx, k, "other"); err != nil {
		t.Errorf("Release: %v", err)
	}
	// Keys in many slots: a Cluster client must split the batch by node.
	many := []string{key("absent-0"), k}
	for i := range 20 {
		many = append(many, key(fmt.Sprintf("absent-%d", i+1)))
	}
	if got, err := s.GetMany(ctx, many); err != nil || len(got) != len(many) || got[0] != nil || string(got[1]) != string(second) || got[len(many)-1] != nil {
		t.Errorf("GetMany: got %q, %v; want nil, %q, then nils", got, err, second)
	}
	if cl, err := s.Claim(ctx, key("absent"), "tok", time.Minute); err != nil || cl.Value != nil || !cl.Leased {
		t.Errorf("Claim of an absent, unleased key: got %+v, %v; want no value and the lease", cl, err)
	}
	if existed, err := s.Replace(ctx, k, []byte("tomb"), time.Minute); err != nil || !existed {
		t.Errorf("Replace over a value: got %v, %v; want true", existed, err)
	}
	if existed, err := s.Replace(ctx, key("other"), []byte("tomb"), time.Minute); err != nil || existed {
		t.Errorf("Replace of an absent key: got %v, %v; want false", existed, err)
	}
	short := key("short")
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
}

// TestRedisCluster runs the store and a cache through OpenRedis against a
// real three-master Cluster.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t)
	s := openRedis(t, cl.URL())
	if d := s.Describe(); !strings.Contains(d, "cluster") || !strings.Contains(d, cl.Addrs()[0]) {
		t.Errorf("Describe = %q; want the topology and the seeds named", d)
	}
	nodes := make([]*redis.Client, 0, len(cl.Addrs()))
	for _, addr := range cl.Addrs() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		nodes = append(nodes, rdb)
	}
	ctx := context.Background()

	t.Run("contract", func(t *testing.T) { storeContract(t, s, true) })

	t.Run("untagged keys are refused", func(t *testing.T) {
		// The reason every key carries a hash tag: without one, an entry
		// and its lease fall in different slots and the scripts that touch
		// both cannot run.
		p := redistest.Prefix(t)
		k := p + ":k"
		for i := 0; ; i++ {
			a, _ := nodes[0].ClusterKeySlot(ctx, k).Result()
			b, _ := nodes[0].ClusterKeySlot(ctx, k+":lease").Result()
			if a != b {
				break
			}
			k = fmt.Sprintf("%s:k%d", p, i)
		}
		if _, err := s.Claim(ctx, k, "tok", time.Minute); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Errorf("Claim of an untagged key: got %v; want a CROSSSLOT error", err)
		}
	})

	t.Run("cache across slots", func(t *testing.T) {
		p := redistest.Prefix(t)
		e := newCacheOn(t, s, cache.Options{Prefix: p})
		o := &origin{}
		const n = 200
		first := make([]cache.Result, n)
		for i := range n {
			first[i] = mustGet(t, e.c, ctx, withArgs(dataQuery, fmt.Sprintf("q%d", i)), o.load)
			if first[i].Source != cache.SourceOrigin || !first[i].Stored {
				t.Fatalf("query %d, first Get: got %+v; want a stored answer from the origin", i, first[i])
			}
		}
		for i := range n {
			r := mustGet(t, e.c, ctx, withArgs(dataQuery, fmt.Sprintf("q%d", i)), o.load)
			if r.Source != cache.SourceCache || r.ID != first[i].ID {
				t.Errorf("query %d, second Get: source %v, data %s; want the stored %s from the cache", i, r.Source, r.Data, first[i].Data)
			}
		}
		if got := o.calls.Load(); got != n {
			t.Errorf("origin calls = %d; want %d, one per query", got, n)
		}
		if got := e.metric(t, "gqlcache_store_errors_total"); got != 0 {
			t.Errorf("gqlcache_store_errors_total = %v; want 0", got)
		}

		// Every master holds some of the entries, each entry's lease would
		// share its slot, and no lease outlived its fill.
		total := 0
		for i, rdb := range nodes {
			keys, err := scanAll(ctx, rdb, p+":*")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) == 0 {
				t.Errorf("master %s holds none of the %d entries; want them spread over every master", cl.Addrs()[i], n)
			}
			for _, k := range keys {
				if strings.HasSuffix(k, ":lease") {
					t.Errorf("lease %s left behind on %s", k, cl.Addrs()[i])
				}
				a, err1 := rdb.ClusterKeySlot(ctx, k).Result()
				b, err2 := rdb.ClusterKeySlot(ctx, k+":lease").Result()
				if err := errors.Join(err1, err2); err != nil || a != b {
					t.Errorf("key %s in slot %d, its lease in slot %d (%v); want one slot", k, a, b, err)
				}
			}
			t.Logf("master %s: %d entries", cl.Addrs()[i], len(keys))
			total += len(keys)
		}
		if total != n {
			t.Errorf("entries over all masters = %d; want %d", total, n)
		}
	})
}

// scanAll lists one node's keys matching pattern. Only tests scan: the
// service never does.
func scanAll(ctx context.Context, rdb *redis.Client, pattern string) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// failoverBound bounds the window of a Sentinel failover, from the
// primary's death to hits on the promoted replica, during which every
// request is answered from the origin. It is the sentinels' down-after
// (redistest.DownAfter), their vote and the promotion (about 1.5s here),
// rounded up to the circuit breaker's next probe (once a second): about 2.1s
// measured. A split vote adds twice the failover timeout; in production the
// sentinels' own settings dominate.
const failoverBound = 10 * time.Second

// TestRedisSentinel runs the store and a cache through OpenRedis against a
// real Sentinel-managed pair, then kills the primary under them.
func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	sen := redistest.StartSentinel(t)
	s := openRedis(t, sen.URL())
	if d := s.Describe(); !strings.Contains(d, "sentinel") || !strings.Contains(d, redistest.MasterName) || !strings.Contains(d, sen.SentinelAddrs()[0]) {
		t.Errorf("Describe = %q; want the topology, the master's name and the sentinels named", d)
	}

	t.Run("contract", func(t *testing.T) { storeContract(t, s, true) })

	t.Run("failover", func(t *testing.T) {
		// The service's defaults, so the window measured is the one it has.
		e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t)})
		o := &origin{}
		ctx := context.Background()
		first := mustGet(t, e.c, ctx, dataQuery, o.load)
		if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
			t.Fatalf("Get before the failover: source %v; want the cache", r.Source)
		}
		sen.Sync(t)

		old := sen.KillPrimary(t)
		killed := time.Now()
		var (
			resumed    time.Duration
			fromOrigin int
			errs       int
			slowest    time.Duration
			lastErr    error
		)
		for resumed == 0 {
			if time.Since(killed) > failoverBound {
				t.Fatalf("no hit within %v of killing the primary %s: %d answers from the origin, %d errors (last %v)\n%s",
					failoverBound, old, fromOrigin, errs, lastErr, sen.LogTail())
			}
			start := time.Now()
			r, err := e.c.Get(ctx, dataQuery, o.load)
			slowest = max(slowest, time.Since(start))
			switch {
			case err != nil:
				errs++
				lastErr = err
			case r.Source == cache.SourceCache:
				resumed = time.Since(killed)
				if !r.CachedAt.Equal(first.CachedAt) || r.ID != first.ID {
					t.Errorf("first hit after the failover: %s cached at %v; want the entry stored before it, %s at %v",
						r.Data, r.CachedAt, first.Data, first.CachedAt)
				}
			default:
				fromOrigin++
			}
			time.Sleep(10 * time.Millisecond)
		}
		if errs != 0 {
			t.Errorf("%d Gets failed during the failover (last: %v); want none: an unreachable store is a miss", errs, lastErr)
		}
		now := sen.WaitFailover(t, old, failoverBound)
		t.Logf("failover window: %v from killing %s to the first hit on %s; %d answers from the origin meanwhile, slowest Get %v",
			resumed.Round(time.Millisecond), old, now, fromOrigin, slowest.Round(time.Millisecond))

		// Past the window the promoted replica serves every request.
		for i := range 20 {
			if r := mustGet(t, e.c, ctx, dataQuery, o.load); r.Source != cache.SourceCache {
				t.Fatalf("Get %d after hits resumed: source %v; want the cache", i, r.Source)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}
