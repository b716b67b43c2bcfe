package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gqlcache/gqlcache/cache"
)

// A miss asks the origin and stores its answer; the next Get for the same
// query is answered from the store.
func ExampleCache_Get() {
	store, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	c, err := cache.New(store, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	q := cache.Query{Field: "Query.weather", Args: map[string]any{"city": "paris"}, Policy: cache.Policy{TTL: time.Minute}}
	calls := 0
	load := func(context.Context) (cache.Fetched, error) {
		calls++
		return cache.Fetched{Data: []byte(`{"sky":"clear"}`), Tags: []string{"city:paris"}}, nil
	}
	for range 2 {
		res, err := c.Get(context.Background(), q, load)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Source == cache.SourceCache, string(res.Data), res.Tags())
	}
	fmt.Println("origin calls:", calls)
	// Output:
	// false {"sky":"clear"} [city:paris]
	// true {"sky":"clear"} [city:paris]
	// origin calls: 1
}

// A purge by tag reaches every entry carrying the tag: the next Get asks
// the origin again.
func ExampleCache_InvalidateTags() {
	store, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	c, err := cache.New(store, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	ctx := context.Background()
	q := cache.Query{Field: "Query.weather", Args: map[string]any{"city": "paris"}, Policy: cache.Policy{TTL: time.Minute}}
	load := func(context.Context) (cache.Fetched, error) {
		return cache.Fetched{Data: []byte(`"clear"`), Tags: []string{"city:paris"}}, nil
	}
	if _, err := c.Get(ctx, q, load); err != nil {
		panic(err)
	}
	n, err := c.InvalidateTags(ctx, []string{"city:paris"}, false)
	if err != nil {
		panic(err)
	}
	res, err := c.Get(ctx, q, load)
	if err != nil {
		panic(err)
	}
	fmt.Println("purged:", n, "next answer from the origin:", res.Source == cache.SourceOrigin)
	// Output:
	// purged: 1 next answer from the origin: true
}
