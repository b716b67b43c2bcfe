package cache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

func BenchmarkGetHit(b *testing.B) {
	stores := map[string]func(b *testing.B) cache.Store{
		"memory": func(b *testing.B) cache.Store {
			s, err := cache.NewMemoryStore(64 << 20)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis": func(b *testing.B) cache.Store {
			url, _ := redistest.Shared(b)
			return cache.NewRedisStore(redisClient(b, url), "bench")
		},
	}
	// A tagged entry's hit runs beside an untagged one's: tags must not
	// slow hits down.
	tagSets := map[string][]string{"untagged": nil, "tagged": {"weather", "city:paris"}}
	for name, open := range stores {
		for kind, tags := range tagSets {
			b.Run(name+"/"+kind, func(b *testing.B) {
				benchHit(b, open(b), tags)
			})
		}
	}
}

func benchHit(b *testing.B, s cache.Store, tags []string) {
	c, err := cache.New(s, cache.Options{Prefix: redistest.Prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	q := withTTL(dataQuery, time.Hour)
	load := func(context.Context) (cache.Fetched, error) {
		return cache.Fetched{Data: []byte(`"Hello, this is fresh data"`), Tags: tags}, nil
	}
	if _, err := c.Get(ctx, q, load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Get(ctx, q, load)
		if err != nil || r.Source != cache.SourceCache {
			b.Fatalf("got %v, %v; want a hit", r.Source, err)
		}
	}
}

func BenchmarkGetMissMemory(b *testing.B) {
	s, err := cache.NewMemoryStore(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := cache.New(s, cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	load := func(context.Context) (cache.Fetched, error) { return cache.Fetched{Data: []byte(`"fresh"`)}, nil }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Get(context.Background(), withArgs(dataQuery, strconv.Itoa(i)), load); err != nil {
			b.Fatal(err)
		}
	}
}
