package fieldcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/cache"
)

// call is one cached field's Get, and the loader it gives the cache: the
// field's resolver, through gqlgen's next.
//
// gqlgen's next is not an ordinary function: it stores the context it is
// given in the frame resolving the field, for the field's children, and
// that frame reads it again once the interceptor returns. So next may run
// only while the interceptor waits in Get (the fill this request leads), or
// once the whole response is written (a background refresh, or a fill that
// began after this request gave up). Run at any other moment it would race
// with gqlgen. finish ends the first window and waits for a resolver still
// running in it.
type call struct {
	f       *cachedField
	q       cache.Query
	next    graphql.Resolver
	request context.Context // the request's context, which the children inherit
	log     *slog.Logger
	done    <-chan struct{} // closed when the operation's response is written

	mu      sync.Mutex
	waiting bool // the request is in Get: next may run at once
	running sync.WaitGroup

	// What the resolver answered when it ran for this request.
	ran   bool
	value any
	err   error
}

func (c *call) load(fill context.Context) (cache.Fetched, error) {
	c.mu.Lock()
	inline := c.waiting
	if inline {
		c.running.Add(1)
	}
	c.mu.Unlock()
	h := &hints{}
	var rctx context.Context
	if inline {
		defer c.running.Done()
		hc := &handoff{fill: fill, request: c.request}
		defer hc.ended.Store(true)
		rctx = hc
	} else {
		select {
		case <-c.done:
		case <-fill.Done():
			return cache.Fetched{}, fill.Err()
		}
		rctx = fill
	}
	v, err := c.resolve(context.WithValue(rctx, hintsKey{}, h))
	if inline {
		c.ran, c.value, c.err = true, v, err
	}
	if errors.Is(err, cache.ErrOriginNotFound) {
		// The one error kept, briefly: an origin saying there is no such
		// item (see cache.Options.NegativeTTL).
		return cache.Fetched{NotFound: true}, nil
	}
	if err != nil {
		return cache.Fetched{}, &resolverError{err: err}
	}
	var data []byte
	if c.f.custom != nil {
		data, err = c.f.custom.Encode(v)
	} else {
		data, err = c.f.codec.encode(nil, v)
	}
	if err != nil {
		return cache.Fetched{}, fmt.Errorf("fieldcache: %s: %w", c.f.coordinate, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return cache.Fetched{Data: data, Tags: append(c.f.tagsFor(c.q), h.tags...), MaxAge: h.maxAge, NoStore: h.noStore}, nil
}

// resolve runs the resolver, turning a panic into an error: the fill runs
// on a goroutine of the cache's, where gqlgen's own recovery cannot reach,
// and a panic there would end the process.
func (c *call) resolve(ctx context.Context) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("resolver panicked", "field", c.f.coordinate, "panic", p, "stack", string(debug.Stack()))
			err = errors.New("internal system error")
		}
	}()
	return c.next(ctx)
}

// resolverError marks a resolver's own error on its way through the cache,
// so the field can still give its message when the cache wraps it.
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// fieldError is a cached field's failure when its resolver failed: the
// resolver's message, as the uncached field would give it, over the cache's
// error, which says how the fill failed (errors.Is finds
// cache.ErrOriginUnavailable or cache.ErrOriginTimeout) and wraps the
// resolver's own error (errors.As finds a *gqlerror.Error it returned).
type fieldError struct {
	msg   string
	cause error
}

func (e *fieldError) Error() string { return e.msg }
func (e *fieldError) Unwrap() error { return e.cause }

// finish ends the window in which the resolver may run for this request and
// waits for it if it is running.
func (c *call) finish() {
	c.mu.Lock()
	c.waiting = false
	c.mu.Unlock()
	c.running.Wait()
}

// handoff is the context a resolver run for its own request gets: the
// fill's (its timeout, its cut at shutdown) while the resolver runs, then
// the request's, since gqlgen hands the same context to the field's
// children, which must not inherit a fill's context that ends with it.
type handoff struct {
	fill, request context.Context
	ended         atomic.Bool
}

func (h *handoff) now() context.Context {
	if h.ended.Load() {
		return h.request
	}
	return h.fill
}

func (h *handoff) Deadline() (time.Time, bool) { return h.now().Deadline() }
func (h *handoff) Done() <-chan struct{}       { return h.now().Done() }
func (h *handoff) Err() error                  { return h.now().Err() }
func (h *handoff) Value(key any) any           { return h.now().Value(key) }

type hintsKey struct{}

// hints are what a resolver said about its answer while it ran.
type hints struct {
	mu      sync.Mutex
	closed  bool // the answer is being stored: later hints are too late
	tags    []string
	maxAge  time.Duration
	noStore bool
}

func hintsFrom(ctx context.Context) *hints {
	h, _ := ctx.Value(hintsKey{}).(*hints)
	return h
}

func (h *hints) set(f func(h *hints)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		f(h)
	}
}

// AddTags attaches tags to the entry of the cached field whose resolver is
// running in ctx, so that cache.Cache.InvalidateTags with any of them
// purges it. Elsewhere it does nothing. Tags are bounded as the cache bounds
// them (see cache.ValidateTag).
func AddTags(ctx context.Context, tags ...string) {
	hintsFrom(ctx).set(func(h *hints) { h.tags = append(h.tags, tags...) })
}

// SetMaxAge shortens the freshness of the answer of the cached field whose
// resolver is running in ctx, below its @cacheControl maxAge: the answer
// knows it changes sooner. It never lengthens it.
func SetMaxAge(ctx context.Context, d time.Duration) {
	hintsFrom(ctx).set(func(h *hints) {
		if d > 0 && (h.maxAge == 0 || d < h.maxAge) {
			h.maxAge = d
		}
	})
}

// NoStore keeps the answer of the cached field whose resolver is running in
// ctx out of the cache: it is served to the requests that asked for it, and
// the next one runs the resolver again.
func NoStore(ctx context.Context) {
	hintsFrom(ctx).set(func(h *hints) { h.noStore = true })
}
