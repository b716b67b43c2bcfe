package fieldcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
)

// Options configures an Extension. The zero value of every field is usable.
type Options struct {
	// MaxAge is the freshness of a field whose @cacheControl gives no
	// maxAge. Zero: such a field is not cached, as in Apollo Server.
	MaxAge time.Duration
	// Scope is the scope of a field whose @cacheControl gives none.
	// Default cache.ScopePublic.
	Scope cache.Scope
	// AdminToken lets a request bearing "Authorization: Bearer <AdminToken>"
	// and "Cache-Debug: true" see what the cache did for each field, in the
	// response's extensions.cache. Empty: nobody sees it.
	AdminToken string
	// Caller names the caller of an HTTP request, whose PRIVATE fields are
	// kept apart from everyone else's (see Handler). Default: the request's
	// Authorization header. A request it names no caller for is never
	// answered from, nor stored in, a PRIVATE field's entries.
	Caller func(*http.Request) string
	// Registerer receives the extension's metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Logger receives values that could not be stored. Nil: discarded.
	Logger *slog.Logger
	// Observe, when set, is told of every cached field answered: its
	// coordinate and policy, what the cache returned (the zero Result when
	// the field was resolved without it) and the error the field failed
	// with. A service counts answers or sets its own headers with it.
	Observe func(ctx context.Context, coordinate string, policy cache.Policy, res cache.Result, err error)
}

// An Extension is a gqlgen handler extension that answers the fields
// carrying @cacheControl through a cache.Cache. Add it to a gqlgen server
// with Use, and wrap the server in Handler. It is safe for concurrent use.
type Extension struct {
	c       *cache.Cache
	opts    Options
	schema  *ast.Schema
	plans   map[*ast.FieldDefinition]*plan
	roots   map[string]*cachedField // the cached fields of the query type
	results *prometheus.CounterVec
}

var (
	_ graphql.HandlerExtension    = (*Extension)(nil)
	_ graphql.FieldInterceptor    = (*Extension)(nil)
	_ graphql.ResponseInterceptor = (*Extension)(nil)
)

// New returns an extension caching, through c, the fields of es that carry
// @cacheControl, as fields describes their Go types (cachegen generates it).
// It refuses a schema it cannot cache correctly, naming the field: a cached
// field of a Mutation or Subscription, one whose Go type cannot round-trip
// through the store, one under a type with no identity (see cachegen's
// @cacheKey) whose entries two parents could share, or a directive it cannot
// read.
func New(es graphql.ExecutableSchema, fields *Fields, c *cache.Cache, opts Options) (*Extension, error) {
	if opts.Caller == nil {
		opts.Caller = func(r *http.Request) string { return r.Header.Get("Authorization") }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Extension{c: c, opts: opts, schema: es.Schema()}
	plans, err := compile(e.schema, fields, opts)
	if err != nil {
		return nil, err
	}
	e.plans = plans
	e.roots = map[string]*cachedField{}
	for _, p := range plans {
		if f := p.cached; f != nil && f.identity == nil {
			e.roots[f.coordinate] = f
		}
	}
	e.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gqlcache", Name: "fieldcache_results_total",
		Help: "Cached fields answered, by schema coordinate and status: HIT, STALE, MISS, NOT_STORED (answered, not stored), ERROR, UNCACHEABLE (no key could be made).",
	}, []string{"field", "status"})
	for _, p := range plans {
		if f := p.cached; f != nil {
			for s := range statusCount {
				f.counts[s] = e.results.WithLabelValues(f.coordinate, s.String())
			}
		}
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(e.results); err != nil {
			return nil, fmt.Errorf("fieldcache: %w", err)
		}
	}
	return e, nil
}

// ExtensionName implements graphql.HandlerExtension.
func (e *Extension) ExtensionName() string { return "FieldCache" }

// Validate implements graphql.HandlerExtension: the server must run the
// schema the extension was made for, whose fields it knows.
func (e *Extension) Validate(es graphql.ExecutableSchema) error {
	if es.Schema() != e.schema {
		return errors.New("fieldcache: the server's schema is not the one given to New")
	}
	return nil
}

// A Status is what the cache did for one cached field, as extensions.cache
// and the metrics give it.
type Status uint8

// The statuses.
const (
	StatusHit         Status = iota // answered from the cache, fresh
	StatusStale                     // answered from the cache past its freshness, while it refreshes or because the resolver failed
	StatusMiss                      // answered by the resolver, then stored
	StatusNotStored                 // answered by the resolver, not stored: a PRIVATE field with no caller, a value too large or one the resolver marked NoStore
	StatusError                     // the resolver failed and no stale value was kept
	StatusUncacheable               // no key could be made (an argument or identity of an unsupported type), or the stored value did not decode: resolved as if uncached
	statusCount
)

var statusNames = [statusCount]string{"HIT", "STALE", "MISS", "NOT_STORED", "ERROR", "UNCACHEABLE"}

// String gives the status its name: HIT, STALE, MISS, NOT_STORED, ERROR or
// UNCACHEABLE.
func (s Status) String() string { return statusNames[s] }

// MarshalText gives a Status its name in extensions.cache.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// InterceptField implements graphql.FieldInterceptor. Fields without a plan
// cost one map lookup; a resolver field the cache does not answer makes the
// response's Cache-Control no-store, since its value is live.
func (e *Extension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	p := e.plans[fc.Field.Definition]
	if p == nil {
		if fc.IsResolver {
			if op := operationFrom(ctx); op != nil {
				op.live()
			}
		}
		return next(ctx)
	}
	op := operationFrom(ctx)
	if op == nil || op.over() {
		// Only a response the extension follows can run a fill safely (see
		// call): without one, or once it is written (a field of a deferred
		// fragment, resolved after it), the field is resolved as if
		// uncached.
		return next(ctx)
	}
	var v any
	var err error
	if p.cached != nil {
		v, err = e.resolve(ctx, fc, p.cached, op, next)
	} else {
		if fc.IsResolver {
			op.live()
		}
		v, err = next(ctx)
	}
	if err == nil && len(p.children) > 0 {
		e.prefetch(ctx, fc, p, op, v)
	}
	return v, err
}

// resolve answers one cached field from the cache, running its resolver on
// a miss.
func (e *Extension) resolve(ctx context.Context, fc *graphql.FieldContext, f *cachedField, op *operation, next graphql.Resolver) (any, error) {
	q, err := f.query(ctx, fc)
	if err != nil {
		e.opts.Logger.Debug("field not cached: no key", "field", f.coordinate, "error", err)
		e.record(ctx, op, fc, f, StatusUncacheable, cache.Result{}, nil)
		op.live()
		return next(ctx)
	}
	ctx = cache.WithBatch(ctx, op.batch)
	cl := &call{f: f, q: q, next: next, request: ctx, log: e.opts.Logger, done: op.done, waiting: true}
	res, err := e.c.Get(ctx, q, cl.load)
	cl.finish()
	if err != nil {
		if cl.ran && cl.err == nil && f.custom == nil {
			// The resolver answered, but its value could not be stored.
			e.opts.Logger.Warn("field answered but not stored", "field", f.coordinate, "error", err)
			e.record(ctx, op, fc, f, StatusNotStored, res, nil)
			return cl.value, nil
		}
		if re := (*resolverError)(nil); errors.As(err, &re) {
			// Errors are never stored: this one is the resolver's, given
			// with its own message whichever request's resolver ran.
			err = &fieldError{msg: re.Error(), cause: err}
		}
		e.record(ctx, op, fc, f, StatusError, res, err)
		return nil, err
	}
	status := StatusHit
	switch {
	case res.Stale:
		status = StatusStale
	case res.Source == cache.SourceOrigin && !res.Stored:
		status = StatusNotStored
	case res.Source == cache.SourceOrigin:
		status = StatusMiss
	}
	if cl.ran && f.custom == nil && res.Source == cache.SourceOrigin {
		// The resolver ran for this request: its own value is the answer.
		e.record(ctx, op, fc, f, status, res, nil)
		return cl.value, nil
	}
	var v any
	if f.custom != nil {
		v, err = f.custom.Decode(res)
	} else {
		v, err = f.codec.decode(res.Data)
	}
	if err != nil {
		// An entry this build cannot read: resolve as if it were absent.
		e.opts.Logger.Warn("cached value does not decode; resolving", "field", f.coordinate, "error", err)
		e.record(ctx, op, fc, f, StatusUncacheable, cache.Result{}, nil)
		op.live()
		return next(ctx)
	}
	e.record(ctx, op, fc, f, status, res, nil)
	return v, nil
}

// Query returns the cache query the extension answers the query type's
// field at coordinate with, for args as gqlgen coerces them, so that another
// door (a REST endpoint, a compiled plan, an invalidation) reads and writes
// the same entry. It fails for a field the extension does not cache or
// that has a parent.
func (e *Extension) Query(coordinate string, args map[string]any) (cache.Query, error) {
	f := e.roots[coordinate]
	if f == nil {
		return cache.Query{}, fmt.Errorf("fieldcache: %s is not a cached field of the query type", coordinate)
	}
	return f.queryFor(args, nil)
}

func (e *Extension) record(ctx context.Context, op *operation, fc *graphql.FieldContext, f *cachedField, status Status, res cache.Result, err error) {
	f.counts[status].Inc()
	op.answered(fc, f, status, res)
	if e.opts.Observe != nil {
		e.opts.Observe(ctx, f.coordinate, f.policy, res, err)
	}
}
