// Package resolvers holds the hand-written GraphQL resolvers. They are thin:
// each maps its arguments to one cache call and the result to the model.
package resolvers

//go:generate go tool gqlgen generate --config ../gqlgen.yml

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/graph/model"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

// Resolver holds the resolvers' dependencies. It is immutable after New, so
// concurrent requests share it without locks.
type Resolver struct {
	cache    *cache.Cache
	origin   origin.Origin
	policies *Policies
}

// New returns the root resolver.
func New(c *cache.Cache, o origin.Origin, p *Policies) *Resolver {
	return &Resolver{cache: c, origin: o, policies: p}
}

// query builds the cache query for the field being resolved: its schema
// coordinate, its arguments as gqlgen coerced them (variables substituted,
// defaults applied) and its policy. Aliases, operation names and whitespace
// never reach it, so they never change the key.
func (r *Resolver) query(fc *graphql.FieldContext) cache.Query {
	f := r.policies.field(fc.Field.Definition)
	return cache.Query{Field: f.coordinate, Args: fc.Args, Policy: f.policy}
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
	}
}
