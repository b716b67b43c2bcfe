// Package cache is a read-through cache for answers from a slow or costly
// origin, on Redis (one node, Sentinel or Cluster) or in process memory: a
// miss asks the origin once however many requests and processes miss
// together, answers are served stale while one refresh runs or when the
// origin fails, tags purge related answers race-free, and a store or origin
// that fails costs requests a bounded wait, never an outage.
//
// It knows nothing of GraphQL or HTTP: an answer is named by a Query (a
// field's name and its arguments), and what a request knows of its caller
// arrives in its context (WithCaller, WithRevalidate). The gqlgen extension
// in package fieldcache and the service's REST shim are two front doors on
// one Cache; what one stores the other reads.
//
// The zero value of every Options field is usable: the defaults are the
// Default constants.
package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
)

// Cache answers Queries from a Store, filling misses from a Loader.
// It is safe for concurrent use.
type Cache struct {
	store   Store
	tags    TagIndex // nil: the store keeps no tags
	opts    Options
	owner   string // names this Cache's lease tokens, "<owner>.<nonce>"
	m       *metrics
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	// errorsInARow counts store calls that failed since one last answered,
	// slowly or not.
	errorsInARow atomic.Uint32
	flights      singleflight.Group
	// purges counts this process's purges by tag. A flight's name carries
	// the count it began under (see flightName), so a request after a purge
	// never joins a flight from before it, whatever key that flight fills:
	// which tags a fill's answer carries is known only once the origin has
	// answered, too late for the purge to find the flight by its key.
	purges atomic.Uint64
	// refreshing holds, for each key whose stale entry is being refreshed
	// or was just refreshed, that entry's nonce, so that a burst of stale
	// hits on one entry starts exactly one refresh, even when hits that
	// read the entry before the refresh replaced it arrive after it ended.
	refreshing sync.Map
	background sync.WaitGroup
	// work counts the fills and refreshes in flight, which Shutdown waits
	// for; none starts once closing is set.
	workMu  sync.Mutex
	closing bool
	work    sync.WaitGroup
	// halt ends when Shutdown stops waiting: it cuts short the origin calls
	// and lease waits of the fills still in flight.
	halt     context.Context
	haltNow  context.CancelFunc
	near     *near // nil: no near cache
	stopNear context.CancelFunc
	shield   *shield
	// tagsDropped logs the first answer whose tags were cut, once.
	tagsDropped sync.Once
}

// New returns a Cache on store.
func New(store Store, opts Options) (*Cache, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{store: store, opts: opts, owner: strconv.FormatUint(rand.Uint64(), 36), m: newMetrics(opts.Registerer)}
	c.halt, c.haltNow = context.WithCancel(context.Background())
	c.shield = newShield(c)
	c.tags, _ = store.(TagIndex)
	if b, ok := store.(Broadcaster); ok && opts.NearTTL > 0 {
		n, err := newNear(opts.NearTTL, opts.NearBytes)
		if err != nil {
			return nil, err
		}
		c.near = n
		var ctx context.Context
		ctx, c.stopNear = context.WithCancel(context.Background())
		// New returns once announcements flow (or after a second, should the
		// store not answer), so the first subscription's reset cannot drop
		// entries a caller has just put in the near cache.
		subscribed := make(chan struct{})
		var once sync.Once
		c.background.Go(func() {
			b.Changes(ctx, opts.Prefix+":"+keyVersion+":changes", func(key string, nonce uint64) {
				c.m.nearDrops.Inc()
				n.changed(key, nonce)
			}, func() {
				n.reset()
				once.Do(func() { close(subscribed) })
			})
		})
		select {
		case <-subscribed:
		case <-time.After(time.Second):
		}
	}
	c.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:     "store",
		Timeout:  opts.BreakerCooldown,
		Interval: opts.BreakerCooldown,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return c.errorsInARow.Load() >= opts.BreakerFailures ||
				(n.Requests >= slowTripCalls && n.TotalFailures*2 >= n.Requests)
		},
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, ErrNotFound) },
		// A caller that gave up says nothing about the store's health.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateClosed {
				c.m.breakerOpen.Set(0)
				opts.Logger.Info("store recovered; cache back in use", "store", store.Describe())
				return
			}
			c.m.breakerOpen.Set(1)
			if from == gobreaker.StateClosed {
				opts.Logger.Warn("store failing; serving from the origin until it recovers", "store", store.Describe())
			}
		},
	})
	return c, nil
}

// Describe names the store behind the cache.
func (c *Cache) Describe() string { return c.store.Describe() }

// Ready reports whether the store answers. A cache whose store is down still
// serves (from the origin), so callers decide what readiness means.
func (c *Cache) Ready(ctx context.Context) error { return c.store.Ping(ctx) }

// ErrClosed is returned by a Get that would have to fill an entry after
// Shutdown has begun: a fill started then could outlive the process and
// leave its lease for others to wait out. It wraps ErrOriginUnavailable,
// which is what a client should make of it.
var ErrClosed = fmt.Errorf("%w: the cache is shutting down", ErrOriginUnavailable)

// Shutdown waits for the fills and refreshes in flight to end, starting no
// new one. Should ctx end first, it cuts their origin calls and lease waits
// short: each then gives back the lease it holds, so that processes sharing
// the store fill the key at once instead of waiting out LeaseTTL for a
// process that is gone, and Shutdown returns ctx's error once they have.
// Hits and stale hits are still answered afterwards.
func (c *Cache) Shutdown(ctx context.Context) error {
	c.workMu.Lock()
	c.closing = true
	c.workMu.Unlock()
	idle := make(chan struct{})
	go func() {
		c.work.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		c.haltNow()
		<-idle
		return ctx.Err()
	}
}

// track counts a fill or refresh about to start, unless Shutdown has begun.
func (c *Cache) track() bool {
	c.workMu.Lock()
	defer c.workMu.Unlock()
	if c.closing {
		return false
	}
	c.work.Add(1)
	return true
}

// Close waits for the fills and refreshes in flight (see Shutdown), then
// stops listening for other processes' writes. A Cache must not be used
// after Close.
func (c *Cache) Close() {
	_ = c.Shutdown(context.Background())
	if c.stopNear != nil {
		c.stopNear()
	}
	c.background.Wait()
	if c.near != nil {
		c.near.close()
	}
}

// Get answers q from the store when it holds a fresh entry, serves a stale
// one while refreshing it in the background, and otherwise fills the entry
// from load, once per key however many requests miss together.
func (c *Cache) Get(ctx context.Context, q Query, load Loader) (Result, error) {
	caller := callerFrom(ctx)
	if q.Policy.TTL <= 0 || (q.Policy.Scope == ScopePrivate && caller == "") {
		c.annotate(ctx, "uncached")
		return c.uncached(ctx, load)
	}
	key, err := c.key(q, caller)
	if err != nil {
		return Result{}, err
	}
	revalidate := revalidateFrom(ctx)
	b := c.newBudget()
	if !revalidate {
		now := c.opts.Now()
		if c.near != nil {
			if e, ok := c.near.get(key, now); ok {
				c.m.hits.Inc()
				c.m.nearHits.Inc()
				c.annotate(ctx, "near_hit")
				return c.answer(e, SourceCache, false)
			}
		}
		seen, batched := lookup{}, false
		if bt := batchFrom(ctx); bt != nil {
			seen, batched = bt.get(key)
		}
		if !batched {
			seen = c.lookup(ctx, &b, key)
		}
		if seen.found {
			switch {
			case now.Before(seen.e.freshUntil):
				c.m.hits.Inc()
				c.keepNear(key, seen.e, now)
				c.annotate(ctx, "hit")
				return c.answer(seen.e, SourceCache, false)
			case now.Before(seen.e.staleUntil):
				c.m.staleServed.Inc()
				c.refresh(ctx, key, seen.e, q.Policy, load)
				c.annotate(ctx, "stale")
				return c.result(seen.e, SourceCache, true), nil
			}
		}
	}
	c.m.misses.Inc()
	if revalidate {
		c.annotate(ctx, "revalidate")
	} else {
		c.annotate(ctx, "miss")
	}
	return c.await(ctx, b, key, q.Policy, load, revalidate)
}

// annotate tells the request's trace span, if one is recording, what the
// cache did and under which prefix (never the key, which would let traces
// join a private caller to their queries).
func (c *Cache) annotate(ctx context.Context, result string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(
			attribute.String("gqlcache.cache.result", result),
			attribute.String("gqlcache.cache.key_prefix", c.opts.Prefix),
		)
	}
}

func (c *Cache) key(q Query, caller string) (string, error) {
	var callerHash string
	if q.Policy.Scope == ScopePrivate {
		callerHash = HashCredential(caller)
	}
	return deriveKey(c.opts.Prefix, q.Field, q.Args, callerHash)
}

// lookup is one read of a key. A value that does not decode counts as
// corrupt and reads as a miss, but its stamp is kept so the next fill
// overwrites it.
type lookup struct {
	e     entry
	stamp []byte
	found bool // e holds an answer: data or not-found (not a tombstone)
}

func (c *Cache) lookup(ctx context.Context, b *budget, key string) lookup {
	raw, err := guard(ctx, c, b, "get", func(ctx context.Context) ([]byte, error) { return c.store.Get(ctx, key) })
	if err != nil {
		return lookup{}
	}
	return c.decode(raw)
}

func (c *Cache) decode(raw []byte) lookup {
	if raw == nil {
		return lookup{}
	}
	l := lookup{stamp: stampOf(raw)}
	e, err := decodeEntry(raw)
	if err != nil {
		c.m.corrupt.Inc()
		return l
	}
	l.e, l.found = e, e.kind != kindTombstone
	return l
}
