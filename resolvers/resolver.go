// Package resolvers holds the hand-written GraphQL resolvers. They know
// nothing of the cache's reads: the fieldcache extension answers the cached
// data field, running its resolver, the origin call, only on a miss. The
// mutations address the same entries through the extension's queries.
package resolvers

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/fieldcache"
	"github.com/gqlcache/gqlcache/graph"
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
	Cache  *cache.Cache
	Origin origin.Origin
	// Fields answers the cached fields; the mutations, the compiled plans
	// and the REST shim address its entries through its queries.
	Fields *fieldcache.Extension
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

// ExtensionOptions configure the extension NewExtension makes.
type ExtensionOptions struct {
	// Default is the policy of a field whose @cacheControl says nothing:
	// the service's CACHE_TTL and CACHE_SCOPE.
	Default    cache.Policy
	AdminToken string
	Results    *results.Counter
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// NewExtension returns the extension caching the service's fields through
// c. The data field keeps the origin's JSON as it came, so that the REST
// shim reads what GraphQL stores, and answers with the cache's figures
// (source, cachedAt, expiresInSeconds); every answer is counted per door
// and gives its freshness to the response's Cache-Control.
func NewExtension(c *cache.Cache, o ExtensionOptions) (*fieldcache.Extension, error) {
	fields := graph.CacheFields()
	fieldcache.Custom(fields, DataField, payloadCodec{})
	// The extension reads only the schema; the resolvers come later, and
	// need the extension for their mutations.
	return fieldcache.New(graph.NewExecutableSchema(graph.Config{}), fields, c, fieldcache.Options{
		MaxAge:     o.Default.TTL,
		Scope:      o.Default.Scope,
		AdminToken: o.AdminToken,
		Registerer: o.Registerer,
		Logger:     o.Logger,
		Observe: func(ctx context.Context, coordinate string, policy cache.Policy, res cache.Result, err error) {
			o.Results.Count(results.GraphQL, coordinate, res, err)
			if err == nil {
				httpapi.Collect(ctx, Freshness(res, policy))
			}
		},
	})
}

// payloadCodec stores a DataPayload as the origin's JSON alone, which the
// REST shim serves, and rebuilds the payload around any answer with the
// cache's figures.
type payloadCodec struct{}

func (payloadCodec) Encode(v any) ([]byte, error) {
	p, ok := v.(*model.DataPayload)
	if !ok || p == nil {
		return nil, errors.New("data: no payload to store")
	}
	return p.Data, nil
}

func (payloadCodec) Decode(res cache.Result) (any, error) { return payload(res), nil }

// Get answers the cached field cq, whose origin query is q, and counts
// what the cache did: the compiled plans' path to the same entries the
// extension answers.
func (d Deps) Get(ctx context.Context, cq cache.Query, q string) (cache.Result, error) {
	res, err := d.Cache.Get(ctx, cq, func(ctx context.Context) (cache.Fetched, error) {
		return d.Origin.Fetch(ctx, origin.Request{Query: q})
	})
	d.Results.Count(results.GraphQL, cq.Field, res, err)
	return res, err
}

// DataQuery is the cache query data(query: q) answers from.
func (d Deps) DataQuery(q string) (cache.Query, error) {
	return d.Fields.Query(DataField, map[string]any{"query": q})
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
