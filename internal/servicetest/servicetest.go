// Package servicetest builds the service's real GraphQL pieces in process for
// other packages' tests: the root resolver on the embedded store, and the
// endpoint around it.
package servicetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/resolvers"
)

// Resolver returns the real root resolver over a fresh embedded store and a
// cache with opts, whose fields default to ttl of freshness. Everything is
// closed at the test's end.
func Resolver(t testing.TB, org origin.Origin, ttl time.Duration, opts cache.Options) *resolvers.Resolver {
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
	p, err := resolvers.NewPolicies(graph.NewExecutableSchema(graph.Config{}).Schema(), cache.Policy{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return resolvers.New(resolvers.Deps{Cache: c, Origin: org, Policies: p})
}

// Endpoint returns the real GraphQL endpoint around r, presenting errors as
// the service does.
func Endpoint(r *resolvers.Resolver, opts gqlhttp.Options) http.Handler {
	opts.ErrorPresenter = resolvers.PresentError
	return gqlhttp.New(graph.NewExecutableSchema(graph.Config{Resolvers: r}), opts)
}
