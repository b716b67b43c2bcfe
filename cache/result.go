package cache

import (
	"strings"
	"time"
)

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
