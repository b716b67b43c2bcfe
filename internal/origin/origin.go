// Package origin is where fresh data comes from on a cache miss: the
// expensive "database" the cache stands in front of.
package origin

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gqlcache/gqlcache/internal/cache"
)

// An Origin answers a query with one JSON value and what it says about
// keeping it. Implementations must honour ctx: the cache bounds every call
// with its origin timeout.
type Origin interface {
	Fetch(ctx context.Context, query string) (cache.Fetched, error)
}

// Generator is the built-in origin, the original service's stand-in for a
// database: it answers "Hello, this is fresh data at <time>" after an
// optional delay that plays the part of an expensive query.
type Generator struct {
	// Delay is how long every answer takes. Zero: at once.
	Delay time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

var _ Origin = Generator{}

// Fetch implements Origin. The query does not change the answer, as in the
// original service, but it does select the cache entry, and its part before
// the first ':' tags it ("weather:paris" is tagged "weather"), so that a
// purge by tag can be tried on the built-in origin.
func (g Generator) Fetch(ctx context.Context, query string) (cache.Fetched, error) {
	if g.Delay > 0 {
		t := time.NewTimer(g.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return cache.Fetched{}, ctx.Err()
		}
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	b, err := json.Marshal("Hello, this is fresh data at " + now().UTC().Format(time.RFC3339Nano))
	got := cache.Fetched{Data: b}
	if tag, _, ok := strings.Cut(query, ":"); ok && tag != "" {
		got.Tags = []string{tag}
	}
	return got, err
}
