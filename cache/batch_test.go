package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// TestPrefetchReadsAListInOneCall fills 100 entries, then answers them with
// one batched read: a list's cached fields cost one store round trip, not
// one per item, and each Get under the batch makes no store call of its own.
// The batch does not hide what changed before it was read: a key absent
// from the store is a miss, filled from the origin.
func TestPrefetchReadsAListInOneCall(t *testing.T) {
	url, prefix := redistest.Shared(t)
	s := countingOn(t, url)
	e := newCacheOn(t, s, cache.Options{Prefix: prefix})
	ctx := context.Background()
	var o origin
	qs := make([]cache.Query, 100)
	for i := range qs {
		qs[i] = cache.Query{Field: "Product.reviews", Args: map[string]any{"__parent": fmt.Sprint(i)}, Policy: cache.Policy{TTL: time.Minute}}
	}
	for _, q := range qs[:99] {
		mustGet(t, e.c, ctx, q, o.load)
	}
	before := s.calls()
	b := cache.NewBatch()
	e.c.Prefetch(ctx, b, qs)
	bctx := cache.WithBatch(ctx, b)
	for i, q := range qs[:99] {
		if r := mustGet(t, e.c, bctx, q, o.load); r.Source != cache.SourceCache {
			t.Fatalf("item %d: source %v; want the cache", i, r.Source)
		}
	}
	if got := s.calls() - before; got != 1 || s.getManys.Load() != 1 {
		t.Errorf("99 hits under one batch: %d store calls (%d batched reads); want 1 batched read", got, s.getManys.Load())
	}
	if r := mustGet(t, e.c, bctx, qs[99], o.load); r.Source != cache.SourceOrigin {
		t.Errorf("the key the batch found absent: source %v; want the origin", r.Source)
	}
	if got := o.calls.Load(); got != 100 {
		t.Errorf("origin calls: %d; want 100 (one per key)", got)
	}
}
