package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/internal/redistest"
)

// BenchmarkPurgeTag10k times one hard purge of 10,000 entries sharing a
// tag on one Redis node, and reports what the tag's index costs in Redis
// memory (MEMORY USAGE) per tagged entry, beside an entry's own cost.
func BenchmarkPurgeTag10k(b *testing.B) {
	const n = 10_000
	url, _ := redistest.Shared(b)
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	prefix := redistest.Prefix(b)
	c, err := New(NewRedisStore(rdb, "bench"), Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx := context.Background()
	load := func(context.Context) (Fetched, error) {
		return Fetched{Data: []byte(`"Hello, this is fresh data"`), Tags: []string{"weather"}}, nil
	}
	fillAll := func() {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					q := Query{Field: "Query.data", Args: map[string]any{"query": fmt.Sprint("weather:", i)}, Policy: Policy{TTL: time.Hour}}
					if r, err := c.Get(ctx, q, load); err != nil || !r.Stored {
						b.Errorf("fill %d: stored %v, %v", i, r.Stored, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	fillAll()
	tk := tagKey(prefix, "weather")
	index := rdb.MemoryUsage(ctx, tk).Val()
	k, _ := deriveKey(prefix, "Query.data", map[string]any{"query": "weather:1"}, "")
	entry := rdb.MemoryUsage(ctx, k).Val()
	for b.Loop() {
		b.StopTimer()
		fillAll()
		b.StartTimer()
		got, err := c.InvalidateTags(ctx, []string{"weather"}, false)
		if err != nil || got != n {
			b.Fatalf("purged %d, %v; want %d", got, err, n)
		}
	}
	b.ReportMetric(float64(index)/n, "index-B/entry")
	b.ReportMetric(float64(entry), "entry-B")
	b.ReportMetric(float64(rdb.MemoryUsage(ctx, tk+":purged").Val()), "mark-B")
}
