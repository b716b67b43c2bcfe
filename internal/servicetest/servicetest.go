// Package servicetest builds the service's real GraphQL pieces in process for
// other packages' tests: the resolvers' dependencies on the embedded store,
// and the endpoint around them.
package servicetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/resolvers"
)

// Deps returns the resolvers' dependencies: a fresh embedded store and a
// cache with opts, whose fields default to ttl of freshness, in front of
// org. Everything is closed at the test's end.
func Deps(t testing.TB, org origin.Origin, ttl time.Duration, opts cache.Options) resolvers.Deps {
	t.Helper()
	store, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	c, err := cache.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ext, err := resolvers.NewExtension(c, resolvers.ExtensionOptions{Default: cache.Policy{TTL: ttl}})
	if err != nil {
		t.Fatal(err)
	}
	return resolvers.Deps{Cache: c, Origin: org, Fields: ext}
}

// Endpoint returns the real GraphQL endpoint around the resolvers over d,
// with the extension answering the cached fields and errors presented as
// the service presents them.
func Endpoint(d resolvers.Deps, opts gqlhttp.Options) http.Handler {
	opts.ErrorPresenter = resolvers.PresentError
	opts.Extensions = append(opts.Extensions, d.Fields)
	return gqlhttp.New(graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New(d)}), opts)
}
