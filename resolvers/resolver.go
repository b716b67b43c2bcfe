// Package resolvers holds the hand-written GraphQL resolvers. They are thin:
// each maps its arguments to one cache call and the result to the model.
package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/graph/model"
	"github.com/gqlcache/gqlcache/internal/admin"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/results"
)

// DataField is the schema coordinate of the cached field, which the
// invalidate mutation and the REST shim address.
const DataField = "Query.data"

// Deps are the resolvers' dependencies.
type Deps struct {
	Cache    *cache.Cache
	Origin   origin.Origin
	Policies *Policies
	// AdminToken authorizes invalidate. Empty: invalidate is always refused.
	AdminToken string
	// Results counts each cached field's answers at the GraphQL door. Nil:
	// not counted.
	Results *results.Counter
}

// Resolver is the root resolver. It is immutable after New, so concurrent
// requests share it without locks; per-request facts come in the context.
type Resolver struct{ d Deps }

// New returns the root resolver.
func New(d Deps) *Resolver { return &Resolver{d: d} }

// query builds the cache query for the field being resolved: its schema
// coordinate, its arguments as gqlgen coerced them (variables substituted,
// defaults applied) and its policy. Aliases, operation names and whitespace
// never reach it, so they never change the key.
func (r *Resolver) query(fc *graphql.FieldContext) cache.Query {
	coordinate, policy := r.d.Policies.Field(fc.Field.Definition)
	return cache.Query{Field: coordinate, Args: fc.Args, Policy: policy}
}

// dataQuery is the cache query data(query: q) resolves to, for resolvers
// that address that field from elsewhere.
func (r *Resolver) dataQuery(q string) cache.Query {
	return cache.Query{Field: DataField, Args: map[string]any{"query": q}, Policy: r.d.Policies.For(DataField)}
}

// Get answers the cached field cq, whose origin query is q, and counts
// what the cache did. Both GraphQL executors (gqlgen's and the plans)
// resolve every cached field through it, so each answer is counted once.
func (d Deps) Get(ctx context.Context, cq cache.Query, q string) (cache.Result, error) {
	res, err := d.Cache.Get(ctx, cq, func(ctx context.Context) (cache.Fetched, error) {
		return d.Origin.Fetch(ctx, origin.Request{Query: q})
	})
	d.Results.Count(results.GraphQL, cq.Field, res, err)
	return res, err
}

// authorized reports whether the operation's request carries the admin token.
func (r *Resolver) authorized(ctx context.Context) bool {
	return admin.Authorized(graphql.GetOperationContext(ctx).Headers.Get("Authorization"), r.d.AdminToken)
}

// Freshness is how long HTTP caches may keep a field's answer res, under
// policy: while it stays fresh, and only while it is stored, since what was
// not stored may not be served again.
func Freshness(res cache.Result, policy cache.Policy) httpapi.Freshness {
	return httpapi.Freshness{
		Cacheable: res.Stored && !res.Stale,
		Private:   policy.Scope == cache.ScopePrivate,
		MaxAge:    res.ExpiresIn(),
	}
}

func payload(res cache.Result) *model.DataPayload {
	src := model.SourceCache
	if res.Source == cache.SourceOrigin {
		src = model.SourceDatabase
	}
	return &model.DataPayload{
		Source:           src,
		Data:             res.Data,
		CachedAt:         res.CachedAt,
		ExpiresInSeconds: res.ExpiresIn(),
		Stale:            res.Stale,
		Tags:             res.Tags(),
	}
}
