package cache

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// flightName is the name of key's flight for requests starting now.
func (c *Cache) flightName(key string) string {
	return key + "\x00" + strconv.FormatUint(c.purges.Load(), 36)
}

// revalidateFlight marks the flight of a revalidation apart from an
// ordinary miss's flight for the same key.
const revalidateFlight = "\x00revalidate"

// fill is what one flight produces for everyone waiting on it.
type fill struct {
	e      entry
	source Source
	stale  bool
	stored bool
}

// await answers a miss from the key's flight, starting one if none is in
// the air. A flight it starts spends what is left of b, the leader's budget,
// so the store costs the leader no more than its budget in all.
func (c *Cache) await(ctx context.Context, b budget, key string, p Policy, load Loader, revalidate bool) (Result, error) {
	flight := c.flightName(key)
	if revalidate {
		// A revalidation must not be answered by a flight that re-reads the
		// store, so it flies apart from ordinary misses.
		flight += revalidateFlight
	}
	leader := false
	ch := c.flights.DoChan(flight, func() (any, error) {
		leader = true
		if !c.track() {
			return nil, ErrClosed
		}
		defer c.work.Done()
		// The fill outlives this caller: others may be waiting on it.
		return c.fill(context.WithoutCancel(ctx), b, key, p, load, !revalidate)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Result{}, r.Err
		}
		f := r.Val.(fill)
		if !leader {
			c.m.coalesced.Inc()
			if span := trace.SpanFromContext(ctx); span.IsRecording() {
				span.SetAttributes(attribute.Bool("gqlcache.cache.coalesced", true))
			}
		}
		if f.stale {
			c.m.staleServed.Inc()
		}
		res, err := c.answer(f.e, f.source, f.stale)
		res.Stored = f.stored
		res.Collapsed = !leader
		return res, err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// refresh starts one background fill for a stale entry unless that entry
// is being, or has been, refreshed. No request waits for it, so it has a
// store budget of its own.
func (c *Cache) refresh(ctx context.Context, key string, stale entry, p Policy, load Loader) {
	if prev, busy := c.refreshing.LoadOrStore(key, stale.nonce); busy {
		if prev.(uint64) == stale.nonce || !c.refreshing.CompareAndSwap(key, prev, stale.nonce) {
			return
		}
	}
	if !c.track() {
		c.refreshing.CompareAndDelete(key, stale.nonce)
		return
	}
	base, flight := context.WithoutCancel(ctx), c.flightName(key)
	go func() {
		defer c.work.Done()
		r := <-c.flights.DoChan(flight, func() (any, error) {
			return c.fill(base, c.newBudget(), key, p, load, true)
		})
		if f, ok := r.Val.(fill); r.Err != nil || !ok || f.stale {
			// The origin failed and the stale entry stays: a later hit
			// tries again.
			c.refreshing.CompareAndDelete(key, stale.nonce)
			return
		}
		// Forget the entry once it can no longer be served stale.
		time.AfterFunc(stale.staleUntil.Sub(c.opts.Now()), func() { c.refreshing.CompareAndDelete(key, stale.nonce) })
	}()
}

// fill runs once per flight. It claims the key: one atomic read of the
// store that also takes the key's lease if it is free. A flight only dedupes
// calls that overlap, so the read may find an answer an earlier flight just
// stored; the lease makes processes sharing the store wait for the one
// fetching instead of fetching too. It then calls the origin and stores the
// answer unless the key changed since it was read.
func (c *Cache) fill(ctx context.Context, b budget, key string, p Policy, load Loader, recheck bool) (fill, error) {
	// A purge of one of the answer's tags at or after this instant may have
	// missed the answer, so it must not be stored (see InvalidateTags).
	began := c.opts.Now()
	token := c.owner + "." + strconv.FormatUint(rand.Uint64(), 36)
	cur, leased, done := c.claim(ctx, &b, key, token, recheck)
	if done {
		c.keepNear(key, cur.e, c.opts.Now())
		return fill{e: cur.e, source: SourceCache, stored: true}, nil
	}
	got, ttl, err := c.fetch(ctx, load, p.TTL)
	if err != nil {
		if leased {
			c.release(ctx, &b, key, token)
		}
		if cur.found && c.opts.Now().Before(cur.e.staleUntil) {
			return fill{e: cur.e, source: SourceCache, stale: true, stored: true}, nil
		}
		return fill{}, err
	}
	e := newEntry(kindData, got.Data, c.tagList(got), c.opts.Now(), ttl, c.opts.Stale)
	if got.NotFound {
		// Not found is an answer, but a short-lived one, never served stale.
		// It keeps its tags, so a purge of them drops it too.
		ttl = min(ttl, c.opts.NegativeTTL)
		e = newEntry(kindNotFound, nil, e.tags, c.opts.Now(), ttl, 0)
	}
	if ttl <= 0 || len(e.data) > c.opts.MaxEntryBytes || !c.tag(ctx, &b, key, e, began) {
		if ttl > 0 && len(e.data) > c.opts.MaxEntryBytes {
			c.m.oversized.Inc()
		}
		if leased {
			c.release(ctx, &b, key, token)
		}
		return fill{e: e, source: SourceOrigin}, nil
	}
	if !leased {
		token = ""
	}
	stored, err := guard(ctx, c, &b, "fill", func(ctx context.Context) (bool, error) {
		return c.store.Fill(ctx, key, cur.stamp, e.encode(), e.staleUntil.Sub(e.cachedAt), token)
	})
	stored = err == nil && stored
	if stored {
		c.keepNear(key, e, c.opts.Now())
	}
	return fill{e: e, source: SourceOrigin, stored: stored}, nil
}

// tag adds key to the indexes of e's tags and reports whether e may be
// stored: no purge of its tags came at or after began, and the store
// indexed it. An untagged entry needs neither.
func (c *Cache) tag(ctx context.Context, b *budget, key string, e entry, began time.Time) bool {
	if e.tags == "" {
		return true
	}
	tags := splitTags(e.tags)
	tagKeys := make([]string, len(tags))
	for i, t := range tags {
		tagKeys[i] = tagKey(c.opts.Prefix, t)
	}
	purged, err := guard(ctx, c, b, "tag", func(ctx context.Context) (time.Time, error) {
		return c.tags.Tag(ctx, key, tagKeys, e.staleUntil, c.opts.Now())
	})
	if err != nil {
		return false
	}
	// Marks are kept to the microsecond: one in the fill's own microsecond
	// may have come before it.
	if !purged.IsZero() && purged.UnixMicro() >= began.UnixMicro() {
		c.m.purgedFills.Inc()
		return false
	}
	return true
}

// claim reads key and tries for its lease until it holds the lease, finds a
// fresh answer (done), or gives up waiting: after LeaseTTL, when a holder
// that died would have lost its lease anyway, or when the store fails, which
// is no reason to wait (nor is a spent budget). It returns the last value
// read, whose stamp a fill must match. A fresh value counts only if recheck
// allows reading the store or it is new since the first read (a
// revalidation waits for a newer one).
func (c *Cache) claim(ctx context.Context, b *budget, key, token string, recheck bool) (cur lookup, leased, done bool) {
	var first []byte
	var deadline <-chan time.Time
	for round := 0; ; round++ {
		cl, err := guard(ctx, c, b, "claim", func(ctx context.Context) (Claim, error) {
			return c.store.Claim(ctx, key, token, c.opts.LeaseTTL)
		})
		if err != nil {
			return cur, false, false
		}
		cur = c.decode(cl.Value)
		if round == 0 {
			first = cur.stamp
		}
		fresh := cur.found && c.opts.Now().Before(cur.e.freshUntil)
		if fresh && (recheck || !bytes.Equal(cur.stamp, first)) {
			if cl.Leased {
				c.release(ctx, b, key, token)
			}
			return cur, false, true
		}
		if cl.Leased {
			return cur, true, false
		}
		if round == 0 {
			c.m.leaseWaits.Inc()
			t := time.NewTimer(c.opts.LeaseTTL)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-time.After(c.opts.LeasePoll):
		case <-deadline:
			return cur, false, false
		case <-c.halt.Done():
			return cur, false, false
		}
	}
}

// keepNear holds a fresh entry just read or written in the near cache.
func (c *Cache) keepNear(key string, e entry, now time.Time) {
	if c.near != nil {
		c.near.put(key, e, now)
	}
}

// release frees a lease this process will not fill. Should it fail, or the
// budget be spent, the lease expires by itself.
func (c *Cache) release(ctx context.Context, b *budget, key, token string) {
	_, _ = guard(ctx, c, b, "release", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.store.Release(ctx, key, token)
	})
}
