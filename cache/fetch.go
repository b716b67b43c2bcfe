package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

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
	return Result{Data: got.Data, CachedAt: now, FreshUntil: now, ServedAt: now, Source: SourceOrigin, TagList: c.tagList(got)}, nil
}

// tags bounds and joins an answer's tags. What is past the bounds is
// dropped, counted and logged once: tags are hints for purging, never a
// reason to fail an answer.
func (c *Cache) tagList(got Fetched) string {
	if c.tags == nil {
		return ""
	}
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
