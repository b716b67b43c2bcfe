// Package origin is where fresh data comes from on a cache miss: the
// expensive "database" the cache stands in front of.
package origin

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/gqlcache/gqlcache/cache"
)

// An Origin answers a request with one JSON value and what it says about
// keeping it. Implementations must honour ctx: the cache bounds every call
// with its origin timeout.
type Origin interface {
	Fetch(ctx context.Context, req Request) (cache.Fetched, error)
}

// A Request is what a miss asks the origin for. Every part of it is part of
// the cache key, so two requests that differ in any part never share an
// answer.
type Request struct {
	// Query is the data field's query argument, or the REST shim's query
	// parameter: empty when a REST call gives none.
	Query string
	// Params are the REST shim's query-string parameters other than query,
	// each name with its values in the order the caller gave them. Nil from
	// GraphQL, whose data field has no other argument.
	Params url.Values
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

// Fetch implements Origin. Neither the query nor the parameters change the
// answer, as in the original service, but they do select the cache entry,
// and the query's part before the first ':' tags it ("weather:paris" is
// tagged "weather"), so that a purge by tag can be tried on the built-in
// origin.
func (g Generator) Fetch(ctx context.Context, req Request) (cache.Fetched, error) {
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
	if tag, _, ok := strings.Cut(req.Query, ":"); ok && tag != "" {
		got.Tags = []string{tag}
	}
	return got, err
}
