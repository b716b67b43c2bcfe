// Package gqlhttp is the GraphQL door's HTTP layer: gqlgen's executor behind
// transports that speak GraphQL over HTTP as its specification says (the
// response media type negotiated from Accept, and the status codes and
// data entry each gives request errors), resolve trusted documents, and
// refuse hostile requests cheaply and clearly. Every refusal is a
// GraphQL-shaped JSON error with a stable extensions.code and the status
// the spec or the code (internal/httpapi) gives it, and none repeats the
// request body back.
//
// The limits run in order of cost: the body size before a byte is read, the
// parser's token limit before any validation (a query of thousands of
// identical fields costs seconds in validation otherwise), then depth,
// aliases, root fields, argument sizes and complexity on the validated
// operation, before anything executes.
package gqlhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// Limits bound what one request may ask. Zero fields take the defaults
// documented on each.
type Limits struct {
	MaxBodyBytes     int64 // request body; default 64 KiB
	MaxTokens        int   // lexical tokens in the query document; default 1000
	MaxDepth         int   // nesting of selections; default 15 (introspection needs 13)
	MaxAliases       int   // aliased fields in the operation; default 15
	MaxRootFields    int   // fields at the operation's top level; default 10
	MaxComplexity    int   // gqlgen complexity (fields, weighted); default 250
	MaxArgumentBytes int   // any string argument; default 4096
}

// DefaultLimits are the limits that zero Limits fields take. A service that
// reads its own configuration starts from these, so that no default is
// spelled in two places.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:     64 << 10,
		MaxTokens:        1000,
		MaxDepth:         15,
		MaxAliases:       15,
		MaxRootFields:    10,
		MaxComplexity:    250,
		MaxArgumentBytes: 4096,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	def(&l.MaxTokens, d.MaxTokens)
	def(&l.MaxDepth, d.MaxDepth)
	def(&l.MaxAliases, d.MaxAliases)
	def(&l.MaxRootFields, d.MaxRootFields)
	def(&l.MaxComplexity, d.MaxComplexity)
	def(&l.MaxArgumentBytes, d.MaxArgumentBytes)
	return l
}

// A Compiler turns an operation that passed validation and the limits
// into a Plan, or returns nil to leave it to gqlgen.
type Compiler interface {
	Compile(*graphql.OperationContext) Plan
}

// A Plan answers one operation without gqlgen's executor, with the bytes
// gqlgen would write. Run appends the whole response body to out and says
// how long HTTP caches may keep it.
type Plan interface {
	Run(ctx context.Context, out []byte) ([]byte, httpapi.Freshness)
}

// Options configures the handler.
type Options struct {
	// Compiler, when set, is offered every operation that passed
	// validation and the limits; a Plan it returns answers this request
	// and every later one with the same body (or GET query), which then
	// skip decoding, parsing, validation and the limits, all settled by
	// the first. Nil: gqlgen executes everything.
	Compiler Compiler
	Limits   Limits
	// Introspection allows __schema and __type. Production turns it off.
	Introspection bool
	// PersistedQueries turns on automatic persisted queries, kept there.
	// Nil: off.
	PersistedQueries graphql.Cache[string]
	// Documents are the trusted documents clients may name by documentId
	// or by their hash in extensions.persistedQuery. Nil: none.
	Documents *Documents
	// TrustedOnly refuses every operation that is not one of Documents.
	TrustedOnly bool
	// Suggestions lets validation errors say "Did you mean ...?", which
	// reveals the schema; production turns them off.
	Suggestions bool
	// ErrorPresenter and RecoverFunc are gqlgen's; nil: gqlgen's defaults.
	ErrorPresenter graphql.ErrorPresenterFunc
	RecoverFunc    graphql.RecoverFunc
	// Extensions are added to gqlgen's server after the endpoint's own
	// (the fieldcache extension, say).
	Extensions []graphql.HandlerExtension
}

// New returns the GraphQL endpoint for es: POST with a JSON body, and GET
// for queries, each guarded as the package doc says.
func New(es graphql.ExecutableSchema, o Options) http.Handler {
	lim := o.Limits.withDefaults()
	srv := handler.New(es)
	plans := &planner{compiler: o.Compiler, cache: lru.New[Plan](1000)}
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{o: &o, lim: lim, plans: plans})
	srv.AddTransport(postTransport{o: &o, lim: lim, plans: plans})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(lim.MaxTokens)
	srv.SetDisableSuggestion(!o.Suggestions)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	if o.PersistedQueries != nil {
		srv.Use(extension.AutomaticPersistedQuery{Cache: o.PersistedQueries})
	}
	srv.Use(&operationLimits{lim: lim, introspection: o.Introspection})
	srv.Use(extension.FixedComplexityLimit(lim.MaxComplexity))
	for _, ext := range o.Extensions {
		srv.Use(ext)
	}
	if o.ErrorPresenter != nil {
		srv.SetErrorPresenter(o.ErrorPresenter)
	}
	if o.RecoverFunc != nil {
		srv.SetRecoverFunc(o.RecoverFunc)
	}
	return srv
}

// NotAllowed answers a method the endpoint does not serve, in the
// endpoint's own error shape, naming the methods it does.
func NotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := negotiate(r.Header.Values("Accept"))
		w.Header().Set("Allow", allow)
		writeError(w, m, httpapi.CodeMethodNotAllowed, "this endpoint accepts "+allow)
	})
}

// requestErrors is the body of an answer to a request whose operation never
// ran: errors and no data entry, which the spec reserves for operations
// that executed.
type requestErrors struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// writeError refuses a request that is not a well-formed GraphQL request
// (or that the endpoint will not take at all) with code's own status,
// whatever the media type.
func writeError(w http.ResponseWriter, m mediaType, code httpapi.Code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, m, httpapi.Status(code), requestErrors{Errors: gqlerror.List{httpapi.GraphQLError(code, msg)}})
}

// writeRequestErrors answers a well-formed request whose operation failed
// before it could execute, with the status the media type gives such
// failures.
func writeRequestErrors(w http.ResponseWriter, m mediaType, resp *graphql.Response) {
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, m, m.requestErrorStatus(), requestErrors{Errors: resp.Errors, Extensions: resp.Extensions})
}

func writeBody(w http.ResponseWriter, m mediaType, status int, body any) {
	w.Header()["Content-Type"] = m.contentType()
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// planner keeps the plans compiled so far, by the request that produced
// them: the same bytes mean the same operation and variables, so the same
// validation and limits verdicts.
type planner struct {
	compiler Compiler
	cache    *lru.LRU[Plan]
}

// maxPlannedRequest bounds the requests whose plans are kept, and so the
// planner's memory (1000 plans of at most 4 KiB of key each): the common
// operations are a few hundred bytes, and a larger one is still planned,
// just compiled anew each time.
const maxPlannedRequest = 4 << 10

// noPlans plans nothing: every request goes to gqlgen.
var noPlans = &planner{}

// forRequest returns the plans r may be answered by: none when r asks for
// the cache's report (Cache-Debug: true), which gqlgen's extensions write
// and plans do not.
func (p *planner) forRequest(r *http.Request) *planner {
	if p.compiler != nil && strings.EqualFold(r.Header.Get("Cache-Debug"), "true") {
		return noPlans
	}
	return p
}

// serve answers from the plan for request, if there is one.
func (p *planner) serve(ctx context.Context, w http.ResponseWriter, m mediaType, request string, get bool) bool {
	if p.compiler == nil {
		return false
	}
	plan, ok := p.cache.Get(ctx, request)
	if !ok {
		return false
	}
	writePlanned(ctx, w, m, plan, get)
	return true
}

func writePlanned(ctx context.Context, w http.ResponseWriter, m mediaType, plan Plan, get bool) {
	body, fresh := plan.Run(ctx, nil)
	h := w.Header()
	h["Content-Type"] = m.contentType()
	if get {
		h.Set("Cache-Control", fresh.CacheControl())
	}
	_, _ = w.Write(body)
}

// execute runs params and writes the response in media type m. request
// identifies the request for the planner.
func execute(ctx context.Context, w http.ResponseWriter, m mediaType, exec graphql.GraphExecutor, params *graphql.RawParams, queriesOnly bool, plans *planner, request string) {
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		if oc.Operation != nil && oc.Variables == nil {
			// The document was valid and only a variable's value failed to
			// coerce, which gqlgen calls a validation failure: it is a bad
			// argument value, BAD_USER_INPUT, as the limits call theirs.
			for _, e := range errs {
				errcode.Set(e, httpapi.CodeBadUserInput)
			}
		}
		// Parsing, validation, variable coercion and the limits: the
		// operation never runs, so the answer has no data.
		writeRequestErrors(w, m, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	if queriesOnly && oc.Operation.Operation != ast.Query {
		// A GET may be sent by a link or an image: it must never change anything.
		writeError(w, m, httpapi.CodeMethodNotAllowed, "only queries may be sent with GET; send mutations with POST")
		return
	}
	if plans.compiler != nil {
		if plan := plans.compiler.Compile(oc); plan != nil {
			if len(request) <= maxPlannedRequest {
				plans.cache.Add(ctx, request, plan)
			}
			writePlanned(ctx, w, m, plan, queriesOnly)
			return
		}
	}
	if !queriesOnly {
		responses, ctx := exec.DispatchOperation(ctx, oc)
		writeBody(w, m, http.StatusOK, responses(ctx))
		return
	}
	// The answer to a GET may be kept by HTTP caches as long as each of its
	// cached fields allows, and none if any failed: the same header a plan
	// would give.
	ctx, fresh := httpapi.WithCollector(ctx)
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	cc := "no-store"
	if len(resp.Errors) == 0 {
		cc = fresh.Freshness().CacheControl()
	}
	w.Header().Set("Cache-Control", cc)
	writeBody(w, m, http.StatusOK, resp)
}
