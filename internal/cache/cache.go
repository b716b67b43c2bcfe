// Package cache is the caching core shared by the GraphQL and REST front
// doors: key derivation, stored entries and their freshness, request
// coalescing, stale serving, invalidation and the policy for a failing store
// or origin. It knows nothing of GraphQL or HTTP; per-request facts (who is
// asking, whether the client wants revalidation) arrive in the context.
package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
)

// Source says where an answer came from.
type Source uint8

// The sources of an answer.
const (
	SourceCache  Source = iota + 1 // the store
	SourceOrigin                   // the origin, during this request
)

// Scope says who may share a cached answer.
type Scope uint8

// The scopes.
const (
	ScopePublic  Scope = iota // one entry for every caller
	ScopePrivate              // one entry per caller; no caller, no caching
)

// Policy is how one field is cached.
type Policy struct {
	// TTL is how long an answer stays fresh. Zero or less: never stored.
	TTL   time.Duration
	Scope Scope
}

// Query names one cacheable answer: a field's schema coordinate (such as
// "Query.data"), its arguments after coercion, and the field's policy.
// Equal fields and arguments share one entry, whichever door they came in by.
type Query struct {
	Field  string
	Args   map[string]any
	Policy Policy
}

// Fetched is what a Loader got from the origin: the answer and what the
// origin said about keeping it.
type Fetched struct {
	// Data is one JSON value, stored and served unchanged.
	Data []byte
	// MaxAge, when positive, caps how long the answer stays fresh (an HTTP
	// upstream's Cache-Control: max-age, say). It can only shorten the
	// field's TTL. Zero: the field's TTL.
	MaxAge time.Duration
	// NoStore forbids storing the answer: it is served to the requests
	// that asked for it, and the next miss asks the origin again.
	NoStore bool
	// NotFound says the origin has no such item (an HTTP upstream's 404 or
	// 410): Data is ignored, and Get returns ErrOriginNotFound, from a
	// negative entry kept for at most Options.NegativeTTL.
	NotFound bool
	// Tags name what the answer was made from, so that InvalidateTags can
	// purge it when any of them changes. At most MaxTags are kept, each a
	// valid tag (see ValidateTag); the rest are dropped.
	Tags []string
}

// Loader fetches fresh data from the origin on a miss.
type Loader func(ctx context.Context) (Fetched, error)

// Errors a Get returns when the origin cannot answer and no stale copy
// exists. The origin's own error is wrapped beneath them.
var (
	ErrOriginUnavailable = errors.New("origin unavailable")
	ErrOriginTimeout     = errors.New("origin timed out")
)

// ErrStoreUnavailable is returned by Invalidate when the store cannot be
// reached: unlike a read, a lost invalidation cannot fail open.
var ErrStoreUnavailable = errors.New("cache store unavailable")

// Result is one answer with what a client needs to judge its freshness.
type Result struct {
	Data       []byte    // the origin's JSON, unchanged
	CachedAt   time.Time // when the origin produced it (millisecond precision)
	FreshUntil time.Time
	ServedAt   time.Time
	Source     Source
	Stale      bool   // served past FreshUntil
	Stored     bool   // the answer is in the store (false: fetched for this caller only)
	Collapsed  bool   // a fill started by another request supplied it
	ID         uint64 // identifies the stored write; equal IDs mean equal data and CachedAt
	// TagList is the answer's tags joined by ',' ("" for none), as a
	// Cache-Tag header carries them.
	TagList string
}

// Tags returns the answer's tags, never nil.
func (r Result) Tags() []string {
	if r.TagList == "" {
		return []string{}
	}
	return strings.Split(r.TagList, ",")
}

// ExpiresIn is the whole seconds of freshness left, rounded up, never negative.
func (r Result) ExpiresIn() int {
	left := r.FreshUntil.Sub(r.ServedAt)
	if left <= 0 {
		return 0
	}
	return int((left + time.Second - 1) / time.Second)
}

// MaxAge is the answer's freshness lifetime in whole seconds, rounded up.
func (r Result) MaxAge() int {
	return int((r.FreshUntil.Sub(r.CachedAt) + time.Second - 1) / time.Second)
}

// Age is the whole seconds since the origin produced the answer.
func (r Result) Age() int {
	return max(0, int(r.ServedAt.Sub(r.CachedAt)/time.Second))
}

// Options configures a Cache. The zero value of every field is usable.
type Options struct {
	// Prefix starts every key; several deployments may share one Redis under
	// different prefixes. Default "gqlcache". See ValidatePrefix.
	Prefix string
	// Stale is how long past its freshness an entry is still served, while
	// one background refresh runs or when the origin fails. Zero: never.
	Stale time.Duration
	// OriginTimeout bounds one origin call. Default 10s.
	OriginTimeout time.Duration
	// LeaseTTL is how long one process may hold a key's fill lease, so that
	// processes sharing a store wait for its answer instead of calling the
	// origin too. It bounds their wait when the holder dies. Default
	// OriginTimeout.
	LeaseTTL time.Duration
	// LeasePoll is how often a process waiting on another's lease looks for
	// the answer. Default 20ms.
	LeasePoll time.Duration
	// StoreBudget is how long one request may wait for the store in all:
	// its read, and the claim and write of a fill it leads, retries
	// included. A request whose budget is spent goes on without the store
	// (a miss, an answer not stored). A background refresh, an
	// invalidation and each persisted-query lookup get a budget of their
	// own. Default 100ms.
	StoreBudget time.Duration
	// SlowCall is how long a store call may take before it counts as a
	// failure to the circuit breaker, even though it answered, so that a
	// store that is slow but alive is bypassed like a dead one. Default
	// half of StoreBudget.
	SlowCall time.Duration
	// BreakerFailures is how many consecutive store errors (timeouts
	// included) open the circuit breaker, after which the store is bypassed
	// (every lookup a miss) until a probe answers within SlowCall. Slow
	// calls open it too, once they and errors are half of at least 20 calls
	// within a BreakerCooldown: a store slow on every call, not a moment's
	// stall of the machine. Default 3.
	BreakerFailures uint32
	// BreakerCooldown is how long the breaker stays open before it lets one
	// probe through. Default 1s.
	BreakerCooldown time.Duration
	// NearTTL turns on the near cache when the store is shared (a
	// Broadcaster, such as Redis): hot entries are also held in process for
	// at most NearTTL, never past their freshness, so a hit skips the
	// network. Other processes' writes and invalidations drop the copies as
	// they are announced. Zero: off.
	NearTTL time.Duration
	// NearBytes bounds the near cache. Default 16 MiB.
	NearBytes int64
	// MaxEntryBytes bounds what is stored: a larger answer is served to the
	// requests that asked but never stored. Default 1 MiB.
	MaxEntryBytes int
	// NegativeTTL is how long an origin's not-found answer is kept, never
	// longer than the field's TTL nor the origin's own max-age. Default 1s.
	NegativeTTL time.Duration
	// OriginMaxInflight bounds the origin calls this process makes at
	// once; hits and requests that join a fill in flight never take a slot.
	// Default 16.
	OriginMaxInflight int
	// OriginQueueWait is how long a miss waits for a free slot before it is
	// served a stale copy or refused with ErrOriginBusy. Default 100ms.
	OriginQueueWait time.Duration
	// OriginBreakerFailures is how many consecutive failed origin calls
	// (errors and timeouts, never not-found answers) open the origin's
	// circuit breaker: misses are then refused at once, or served stale,
	// until one probe succeeds. Default 5.
	OriginBreakerFailures uint32
	// OriginBreakerCooldown is how long the origin's breaker stays open
	// before it lets one probe through. Default 5s.
	OriginBreakerCooldown time.Duration
	// Registerer receives the cache's metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Logger receives store outages and recoveries. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// Cache answers Queries from a Store, filling misses from a Loader.
// It is safe for concurrent use.
type Cache struct {
	store   Store
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
	if opts.Prefix == "" {
		opts.Prefix = "gqlcache"
	}
	if err := ValidatePrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if opts.Stale < 0 {
		return nil, errors.New("stale window must not be negative")
	}
	if opts.OriginTimeout <= 0 {
		opts.OriginTimeout = 10 * time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = opts.OriginTimeout
	}
	if opts.LeasePoll <= 0 {
		opts.LeasePoll = 20 * time.Millisecond
	}
	if opts.StoreBudget <= 0 {
		opts.StoreBudget = 100 * time.Millisecond
	}
	if opts.SlowCall <= 0 {
		opts.SlowCall = opts.StoreBudget / 2
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 3
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = time.Second
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NearBytes <= 0 {
		opts.NearBytes = 16 << 20
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = time.Second
	}
	if opts.OriginMaxInflight <= 0 {
		opts.OriginMaxInflight = 16
	}
	if opts.OriginQueueWait <= 0 {
		opts.OriginQueueWait = 100 * time.Millisecond
	}
	if opts.OriginBreakerFailures == 0 {
		opts.OriginBreakerFailures = 5
	}
	if opts.OriginBreakerCooldown <= 0 {
		opts.OriginBreakerCooldown = 5 * time.Second
	}
	c := &Cache{store: store, opts: opts, owner: strconv.FormatUint(rand.Uint64(), 36), m: newMetrics(opts.Registerer)}
	c.halt, c.haltNow = context.WithCancel(context.Background())
	c.shield = newShield(c)
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
		if seen := c.lookup(ctx, &b, key); seen.found {
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
		return c.store.Purge(ctx, tagKeys, now, life)
	})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	// Requests after the purge must not join a fill from before it.
	c.purges.Add(1)
	n, err := guard(ctx, c, &b, "purge", func(ctx context.Context) (int, error) {
		if soft && c.opts.Stale > 0 {
			return c.store.Soften(ctx, keys, rand.Uint64(), now)
		}
		tomb := newEntry(kindTombstone, nil, "", now, 0, 0)
		return c.store.ReplaceAll(ctx, keys, tomb.encode(), life)
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

func (c *Cache) key(q Query, caller string) (string, error) {
	var callerHash string
	if q.Policy.Scope == ScopePrivate {
		callerHash = HashCredential(caller)
	}
	return deriveKey(c.opts.Prefix, q.Field, q.Args, callerHash)
}

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
	e := newEntry(kindData, got.Data, c.tags(got), c.opts.Now(), ttl, c.opts.Stale)
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
		return c.store.Tag(ctx, key, tagKeys, e.staleUntil, c.opts.Now())
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

// fetch calls the origin, once the shield admits the call, under its own
// timeout, and checks that the answer is one JSON value, since it is served
// without re-encoding. It returns the answer's freshness: ttl, or less if
// the origin limited it.
func (c *Cache) fetch(ctx context.Context, load Loader, ttl time.Duration) (Fetched, time.Duration, error) {
	done, err := c.admit(ctx)
	if err != nil {
		return Fetched{}, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.OriginTimeout)
	defer cancel()
	defer context.AfterFunc(c.halt, cancel)()
	c.m.originFetches.Inc()
	start := time.Now()
	got, err := safeLoad(ctx, load)
	took := time.Since(start)
	done(err)
	c.m.originSeconds.Observe(took.Seconds())
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Float64("gqlcache.origin.duration_ms", float64(took.Microseconds())/1000))
	}
	if err == nil && !got.NotFound && !json.Valid(got.Data) {
		err = errors.New("origin answered with invalid JSON")
	}
	var pause *RetryAfterError
	switch {
	case err == nil:
		if got.NoStore {
			ttl = 0
		} else if got.MaxAge > 0 {
			ttl = min(ttl, got.MaxAge)
		}
		return got, ttl, nil
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		c.m.originErrors.WithLabelValues("timeout").Inc()
		return Fetched{}, 0, fmt.Errorf("%w: %w", ErrOriginTimeout, err)
	case errors.As(err, &pause):
		c.m.originErrors.WithLabelValues("retry_after").Inc()
		return Fetched{}, 0, c.pause(pause.After)
	default:
		c.m.originErrors.WithLabelValues("error").Inc()
		return Fetched{}, 0, fmt.Errorf("%w: %w", ErrOriginUnavailable, err)
	}
}

// safeLoad turns an origin's panic into an error. The fill runs on its own
// goroutine (singleflight's), where a panic would end the whole process.
func safeLoad(ctx context.Context, load Loader) (got Fetched, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("origin panicked: %v", p)
		}
	}()
	return load(ctx)
}

// uncached answers without touching the store: a private field with no
// caller to key it by, or a field whose policy forbids storing.
func (c *Cache) uncached(ctx context.Context, load Loader) (Result, error) {
	c.m.uncached.Inc()
	got, _, err := c.fetch(ctx, load, 0)
	if err != nil {
		return Result{}, err
	}
	if got.NotFound {
		c.m.notFound.Inc()
		return Result{}, ErrOriginNotFound
	}
	now := c.opts.Now().Truncate(time.Millisecond)
	return Result{Data: got.Data, CachedAt: now, FreshUntil: now, ServedAt: now, Source: SourceOrigin, TagList: c.tags(got)}, nil
}

// tags bounds and joins an answer's tags. What is past the bounds is
// dropped, counted and logged once: tags are hints for purging, never a
// reason to fail an answer.
func (c *Cache) tags(got Fetched) string {
	tags, dropped := boundTags(got.Tags)
	if dropped > 0 {
		c.m.tagsDropped.Add(float64(dropped))
		c.tagsDropped.Do(func() {
			c.opts.Logger.Warn("origin answer carried tags past the bounds; dropped (logged once, counted in gqlcache_cache_tags_dropped_total)",
				"max_tags", MaxTags, "max_tag_bytes", MaxTagBytes, "dropped", dropped)
		})
	}
	return tags
}

// answer is what Get returns for an entry: its Result, or the origin's
// not-found for a negative entry.
func (c *Cache) answer(e entry, src Source, stale bool) (Result, error) {
	if e.kind == kindNotFound {
		c.m.notFound.Inc()
		return Result{}, ErrOriginNotFound
	}
	return c.result(e, src, stale), nil
}

func (c *Cache) result(e entry, src Source, stale bool) Result {
	return Result{
		Data:       e.data,
		CachedAt:   e.cachedAt,
		FreshUntil: e.freshUntil,
		ServedAt:   c.opts.Now(),
		Source:     src,
		Stale:      stale,
		Stored:     true,
		ID:         e.nonce,
		TagList:    e.tags,
	}
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

type ctxKey int

const (
	callerKey ctxKey = iota
	revalidateKey
)

// WithCaller returns a context naming the caller by its credential (such as
// an Authorization header). Only private fields use it, through a hash.
func WithCaller(ctx context.Context, credential string) context.Context {
	return context.WithValue(ctx, callerKey, credential)
}

// WithRevalidate returns a context whose Gets skip the stored copy and fetch
// (coalesced), as a client's Cache-Control: no-cache asks.
func WithRevalidate(ctx context.Context) context.Context {
	return context.WithValue(ctx, revalidateKey, true)
}

func callerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey).(string)
	return s
}

func revalidateFrom(ctx context.Context) bool {
	b, _ := ctx.Value(revalidateKey).(bool)
	return b
}
