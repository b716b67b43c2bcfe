package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Invalidate removes q's entry and reports whether there was one. A fill
// that started before it cannot store its older answer afterwards: the
// tombstone it leaves changes the stamp that fill's conditional write expects.
func (c *Cache) Invalidate(ctx context.Context, q Query) (bool, error) {
	key, err := c.key(q, callerFrom(ctx))
	if err != nil {
		return false, err
	}
	// Requests after the invalidation must not join a fill from before it.
	c.flights.Forget(c.flightName(key))
	c.flights.Forget(c.flightName(key) + revalidateFlight)
	if c.near != nil {
		c.near.drop(key)
	}
	// The tombstone must outlive any fill already under way: one that waited
	// out a lease, then spent the whole origin timeout.
	life := c.opts.LeaseTTL + c.opts.OriginTimeout + time.Second
	tomb := newEntry(kindTombstone, nil, "", c.opts.Now(), 0, 0)
	b := c.newBudget()
	existed, err := guard(ctx, c, &b, "invalidate", func(ctx context.Context) (bool, error) {
		return c.store.Replace(ctx, key, tomb.encode(), life)
	})
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	c.m.purges.WithLabelValues("key").Inc()
	return existed, nil
}

// purgeBudget bounds the store work of one purge by tag.
const purgeBudget = 10 * time.Second

// InvalidateTags purges every entry carrying any of tags, on every process
// sharing the store, and reports how many entries it reached. A hard purge
// (soft false) turns them into misses. A soft one makes them stale: served
// with Stale set while one refresh runs, within the stale window; with no
// stale window it is a hard purge. Either costs the store work in
// proportion to the entries carrying the tags, never to the others.
//
// Race-free, although an entry and its tags' indexes may live in different
// Cluster slots, where no one script can reach both: a fill (1) indexes its
// key under its tags, (2) reads their purge marks and gives up storing if
// one is at or after the instant it began, (3) writes conditionally on the
// stamp it read. A purge (a) marks the instant, (b) reads the indexes and
// rewrites every live member, which changes its stamp. A fill whose (2)
// follows (a) sees the mark; one whose (2) precedes (a) was indexed before
// (b), so the purge rewrites its key after the fill's write, or before it,
// and then the write fails its stamp. The mark outlives every fill that can
// have begun before it. Instants come from each process's clock, as
// freshness figures do.
func (c *Cache) InvalidateTags(ctx context.Context, tags []string, soft bool) (int, error) {
	if c.tags == nil {
		return 0, ErrNoTagIndex
	}
	if len(tags) == 0 || len(tags) > MaxPurgeTags {
		return 0, fmt.Errorf("%w: give 1 to %d tags", ErrInvalidTag, MaxPurgeTags)
	}
	tagKeys := make([]string, len(tags))
	for i, t := range tags {
		if err := ValidateTag(t); err != nil {
			return 0, err
		}
		tagKeys[i] = tagKey(c.opts.Prefix, t)
	}
	now := c.opts.Now()
	life := c.opts.LeaseTTL + c.opts.OriginTimeout + time.Second
	// A purge's work grows with the entries carrying its tags (10,000 take
	// a few hundred milliseconds), so it has a budget of its own, not a
	// read's.
	b := budget{left: max(c.opts.StoreBudget, purgeBudget)}
	keys, err := guard(ctx, c, &b, "purge", func(ctx context.Context) ([]string, error) {
		return c.tags.Purge(ctx, tagKeys, now, life)
	})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	// Requests after the purge must not join a fill from before it.
	c.purges.Add(1)
	n, err := guard(ctx, c, &b, "purge", func(ctx context.Context) (int, error) {
		if soft && c.opts.Stale > 0 {
			return c.tags.Soften(ctx, keys, rand.Uint64(), now)
		}
		tomb := newEntry(kindTombstone, nil, "", now, 0, 0)
		return c.tags.ReplaceAll(ctx, keys, tomb.encode(), life)
	})
	if c.near != nil {
		for _, k := range keys {
			c.near.drop(k)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	c.m.purges.WithLabelValues("tags").Inc()
	return n, nil
}
