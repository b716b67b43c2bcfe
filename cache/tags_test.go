package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// tagStores are the stores every tag test runs on: the embedded memory
// store, one Redis node, and a 3-master Redis Cluster, where entries and
// tag indexes spread over every slot.
func tagStores(t *testing.T) map[string]func(t *testing.T) cache.Store {
	cluster := redistest.StartCluster(t)
	return map[string]func(t *testing.T) cache.Store{
		"memory": func(t *testing.T) cache.Store {
			s, err := cache.NewMemoryStore(8 << 20)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis": func(t *testing.T) cache.Store {
			url, _ := redistest.Shared(t)
			return openRedis(t, url)
		},
		"cluster": func(t *testing.T) cache.Store { return openRedis(t, cluster.URL()) },
	}
}

func tagged(query string) cache.Query {
	return withArgs(dataQuery, query)
}

func TestTags(t *testing.T) {
	for name, open := range tagStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("carried", func(t *testing.T) { testTagsCarried(t, open(t)) })
			t.Run("hard purge", func(t *testing.T) { testHardPurge(t, open(t)) })
			t.Run("soft purge", func(t *testing.T) { testSoftPurge(t, open(t)) })
			t.Run("soft purge without stale window", func(t *testing.T) { testSoftPurgeWithoutStale(t, open(t)) })
			t.Run("fill racing a purge", func(t *testing.T) { testFillRacingPurge(t, open(t)) })
		})
	}
}

func testTagsCarried(t *testing.T, s cache.Store) {
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t)})
	o := &origin{tags: []string{"weather", "city:paris", "weather"}}
	ctx := context.Background()
	for i, want := range []cache.Source{cache.SourceOrigin, cache.SourceCache} {
		r := mustGet(t, e.c, ctx, tagged("weather:paris"), o.load)
		if r.Source != want || r.TagList != "weather,city:paris" || fmt.Sprint(r.Tags()) != "[weather city:paris]" {
			t.Errorf("get %d: got source %v, tags %q; want %v, \"weather,city:paris\" (duplicates dropped)", i, r.Source, r.TagList, want)
		}
	}
	if got := mustGet(t, e.c, ctx, tagged("untagged"), (&origin{}).load).Tags(); got == nil || len(got) != 0 {
		t.Errorf("untagged answer: got tags %#v; want an empty list", got)
	}
}

// testHardPurge purges a tag carried by many entries (spread over every
// Cluster slot) and checks that exactly those become misses.
func testHardPurge(t *testing.T, s cache.Store) {
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t)})
	ctx := context.Background()
	purged, kept := &origin{tags: []string{"weather"}}, &origin{tags: []string{"news"}}
	const n = 30
	for i := range n {
		mustGet(t, e.c, ctx, tagged(fmt.Sprint("weather:", i)), purged.load)
		mustGet(t, e.c, ctx, tagged(fmt.Sprint("news:", i)), kept.load)
	}
	got, err := e.c.InvalidateTags(ctx, []string{"weather", "unused"}, false)
	if err != nil || got != n {
		t.Fatalf("InvalidateTags: got %d, %v; want %d entries", got, err, n)
	}
	for i := range n {
		if r := mustGet(t, e.c, ctx, tagged(fmt.Sprint("weather:", i)), purged.load); r.Source != cache.SourceOrigin {
			t.Fatalf("weather:%d after the purge: source %v; want the origin", i, r.Source)
		}
		if r := mustGet(t, e.c, ctx, tagged(fmt.Sprint("news:", i)), kept.load); r.Source != cache.SourceCache {
			t.Fatalf("news:%d (another tag) after the purge: source %v; want the cache", i, r.Source)
		}
	}
	if c := purged.calls.Load(); c != 2*n {
		t.Errorf("origin calls for the purged tag: got %d; want %d", c, 2*n)
	}
	if c := kept.calls.Load(); c != n {
		t.Errorf("origin calls for the other tag: got %d; want %d", c, n)
	}
}

func testSoftPurge(t *testing.T, s cache.Store) {
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t), Stale: time.Minute})
	ctx := context.Background()
	o := &origin{tags: []string{"weather"}, gate: make(chan struct{})}
	close(o.gate)
	q := tagged("weather:paris")
	first := mustGet(t, e.c, ctx, q, o.load)
	// Hold the refresh at the origin so every request in the burst sees
	// the stale copy.
	o.gate = make(chan struct{})
	if n, err := e.c.InvalidateTags(ctx, []string{"weather"}, true); err != nil || n != 1 {
		t.Fatalf("soft InvalidateTags: got %d, %v; want 1", n, err)
	}
	var wg sync.WaitGroup
	burst, cancel := context.WithTimeout(ctx, 2*time.Second) // a miss would wait at the gate
	defer cancel()
	for range 20 {
		wg.Go(func() {
			r, err := e.c.Get(burst, q, o.load)
			if err != nil || !r.Stale || r.Source != cache.SourceCache || string(r.Data) != string(first.Data) {
				t.Errorf("after a soft purge: got stale %v, source %v, data %s, %v; want the stored answer, stale", r.Stale, r.Source, r.Data, err)
			}
		})
	}
	wg.Wait()
	close(o.gate)
	r := eventuallyFresh(t, e.c, q, o.load)
	if string(r.Data) == string(first.Data) {
		t.Errorf("after the refresh: data %s; want a new answer", r.Data)
	}
	if c := o.calls.Load(); c != 2 {
		t.Errorf("origin calls: got %d; want 2 (the fill and exactly one refresh)", c)
	}
}

func testSoftPurgeWithoutStale(t *testing.T, s cache.Store) {
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t)})
	ctx := context.Background()
	o := &origin{tags: []string{"weather"}}
	mustGet(t, e.c, ctx, tagged("weather:paris"), o.load)
	if _, err := e.c.InvalidateTags(ctx, []string{"weather"}, true); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, e.c, ctx, tagged("weather:paris"), o.load); r.Source != cache.SourceOrigin || r.Stale {
		t.Errorf("soft purge with no stale window: got source %v, stale %v; want a miss, as a hard purge", r.Source, r.Stale)
	}
}

// testFillRacingPurge holds a fill at the origin while its tag is purged:
// its answer predates the purge, so it may go to the caller that asked but
// must not be stored. The key held nothing, so only the purge mark can stop
// it.
func testFillRacingPurge(t *testing.T, s cache.Store) {
	e := newCacheOn(t, s, cache.Options{Prefix: redistest.Prefix(t)})
	o := &origin{tags: []string{"weather"}, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	ctx := context.Background()
	filled := make(chan cache.Result, 1)
	go func() { filled <- mustGet(t, e.c, ctx, tagged("weather:paris"), o.load) }()
	<-o.entered
	if _, err := e.c.InvalidateTags(ctx, []string{"weather"}, false); err != nil {
		t.Fatal(err)
	}
	close(o.gate)
	if r := <-filled; r.Stored {
		t.Error("the fill that raced with the purge: Stored = true; want false")
	}
	o.gate, o.entered = nil, nil
	if r := mustGet(t, e.c, ctx, tagged("weather:paris"), o.load); r.Source != cache.SourceOrigin {
		t.Errorf("after the purge: source %v; want the origin (the older answer must not be served)", r.Source)
	}
	if r := mustGet(t, e.c, ctx, tagged("weather:paris"), o.load); r.Source != cache.SourceCache {
		t.Errorf("a fill begun after the purge: source %v; want it stored and served from the cache", r.Source)
	}
	if got := e.metric(t, "gqlcache_cache_purged_fills_total"); got != 1 {
		t.Errorf("gqlcache_cache_purged_fills_total = %v; want 1", got)
	}
}

func TestTagBounds(t *testing.T) {
	s, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e := newCacheOn(t, s, cache.Options{})
	var tags []string
	for i := range cache.MaxTags + 2 {
		tags = append(tags, fmt.Sprint("t", i))
	}
	tags = append([]string{"has space", "", strings.Repeat("x", cache.MaxTagBytes+1), "a,b"}, tags...)
	r := mustGet(t, e.c, context.Background(), dataQuery, (&origin{tags: tags}).load)
	if got := len(r.Tags()); got != cache.MaxTags || r.Tags()[0] != "t0" {
		t.Errorf("got %d tags starting %q; want the first %d valid ones", got, r.Tags()[0], cache.MaxTags)
	}
	if got := e.metric(t, "gqlcache_cache_tags_dropped_total"); got != 6 {
		t.Errorf("gqlcache_cache_tags_dropped_total = %v; want 6", got)
	}
}

func TestInvalidateTagsRefusesBadTags(t *testing.T) {
	s, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e := newCacheOn(t, s, cache.Options{})
	for name, tags := range map[string][]string{
		"none": nil, "empty": {""}, "space": {"a b"}, "comma": {"a,b"}, "newline": {"a\n"},
		"too long": {strings.Repeat("x", cache.MaxTagBytes+1)}, "too many": make([]string, cache.MaxPurgeTags+1),
	} {
		if _, err := e.c.InvalidateTags(context.Background(), tags, false); !errors.Is(err, cache.ErrInvalidTag) {
			t.Errorf("%s: got %v; want ErrInvalidTag", name, err)
		}
	}
}

// TestPurgeWithStoreDownFails: a lost purge cannot fail open.
func TestPurgeWithStoreDownFails(t *testing.T) {
	srv := redistest.Start(t)
	e := newCacheOn(t, openRedis(t, srv.URL()), cache.Options{Prefix: redistest.Prefix(t)})
	srv.Kill()
	for _, soft := range []bool{false, true} {
		if _, err := e.c.InvalidateTags(context.Background(), []string{"weather"}, soft); !errors.Is(err, cache.ErrStoreUnavailable) {
			t.Errorf("soft %v with Redis down: got %v; want ErrStoreUnavailable", soft, err)
		}
	}
}

// TestRequestAfterPurgeDoesNotJoinEarlierFill holds a fill in the origin,
// purges a tag its answer will carry, and sends another request: that
// request must fetch anew, not take the answer of a fill that began before
// the purge. The key held nothing, so no tag index names it yet.
func TestRequestAfterPurgeDoesNotJoinEarlierFill(t *testing.T) {
	url, prefix := redistest.Shared(t)
	e := newCacheOn(t, openRedis(t, url), cache.Options{Prefix: prefix})
	o := &origin{tags: []string{"weather"}, gate: make(chan struct{}), entered: make(chan struct{}, 2)}
	ctx := context.Background()
	q := tagged("weather:paris")
	gate := o.gate
	var opened sync.Once
	open := func() { opened.Do(func() { close(gate) }) }
	t.Cleanup(open) // a failing test must not leave the fill held

	before := make(chan cache.Result, 1)
	go func() { before <- mustGet(t, e.c, ctx, q, o.load) }()
	<-o.entered
	if _, err := e.c.InvalidateTags(ctx, []string{"weather"}, false); err != nil {
		t.Fatal(err)
	}
	after := make(chan cache.Result, 1)
	go func() { after <- mustGet(t, e.c, ctx, q, o.load) }()
	// Had it joined the held fill, it would wait on the gate without
	// calling the origin.
	waitUntil(t, "the request after the purge calls the origin (did it join the fill from before?)", func() bool {
		return o.calls.Load() == 2
	})
	open()
	a, b := <-before, <-after

	if got := e.metric(t, "gqlcache_cache_coalesced_waits_total"); got != 0 {
		t.Errorf("coalesced waits = %v; want 0 (the request after the purge joined the fill from before it)", got)
	}
	if string(a.Data) != `{"answer":1}` || string(b.Data) != `{"answer":2}` {
		t.Errorf("answers before and after the purge = %s, %s; want {\"answer\":1}, {\"answer\":2}", a.Data, b.Data)
	}
	o.gate, o.entered = nil, nil
	if r := mustGet(t, e.c, ctx, q, o.load); r.Source != cache.SourceCache || string(r.Data) != `{"answer":2}` {
		t.Errorf("next request: got %s from %v; want the answer fetched after the purge, from the cache", r.Data, r.Source)
	}
}
