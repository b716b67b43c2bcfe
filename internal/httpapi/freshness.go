package httpapi

import (
	"context"
	"strconv"
	"sync"
)

// Freshness is how long an answer may be kept by HTTP caches: MaxAge
// seconds, by any cache or (Private) only the caller's own, then Stale
// seconds more while revalidating or when the service fails. The zero
// value means not at all.
type Freshness struct {
	Cacheable bool
	Private   bool
	MaxAge    int
	Stale     int
}

// CacheControl is the Cache-Control header of an answer that fresh.
func (f Freshness) CacheControl() string {
	if !f.Cacheable {
		return "no-store"
	}
	var buf [96]byte
	b := buf[:0]
	if f.Private {
		b = append(b, "private, max-age="...)
	} else {
		b = append(b, "public, max-age="...)
	}
	b = strconv.AppendInt(b, int64(f.MaxAge), 10)
	if f.Stale > 0 {
		b = append(b, ", stale-while-revalidate="...)
		b = strconv.AppendInt(b, int64(f.Stale), 10)
		b = append(b, ", stale-if-error="...)
		b = strconv.AppendInt(b, int64(f.Stale), 10)
	}
	return string(b)
}

// And is the freshness of an answer made of the parts f and g: kept while
// both may be, only privately if either is private.
func (f Freshness) And(g Freshness) Freshness {
	if !f.Cacheable || !g.Cacheable {
		return Freshness{}
	}
	return Freshness{
		Cacheable: true,
		Private:   f.Private || g.Private,
		MaxAge:    min(f.MaxAge, g.MaxAge),
		Stale:     min(f.Stale, g.Stale),
	}
}

// A Collector gathers the freshness of the parts of one answer as they are
// resolved, concurrently or not: each cached GraphQL field reports its own,
// and the answer's Cache-Control is what they all allow. The zero value is
// ready to use.
type Collector struct {
	mu    sync.Mutex
	f     Freshness
	parts int
}

type collectorKey struct{}

// WithCollector returns a context whose cached fields report to the
// returned collector.
func WithCollector(ctx context.Context) (context.Context, *Collector) {
	c := &Collector{}
	return context.WithValue(ctx, collectorKey{}, c), c
}

// Collect reports the freshness of one part of the answer being built in
// ctx; without a collector (a POST, whose answers HTTP caches never keep)
// it does nothing.
func Collect(ctx context.Context, f Freshness) {
	if c, _ := ctx.Value(collectorKey{}).(*Collector); c != nil {
		c.Add(f)
	}
}

// Add reports the freshness of one part of the answer.
func (c *Collector) Add(f Freshness) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts == 0 {
		c.f = f
	} else {
		c.f = c.f.And(f)
	}
	c.parts++
}

// Freshness is what every part reported allows; an answer without a cached
// part is not kept, since nothing says how long it stays true.
func (c *Collector) Freshness() Freshness {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts == 0 || c.f.MaxAge <= 0 {
		return Freshness{}
	}
	return c.f
}
