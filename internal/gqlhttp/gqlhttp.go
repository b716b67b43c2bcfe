// Package gqlhttp is the GraphQL door's HTTP layer: gqlgen's executor behind
// transports that refuse hostile requests cheaply and clearly. Every refusal
// is a GraphQL-shaped JSON error with a stable extensions.code and the right
// status, and none repeats the request body back.
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

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of the refusals this package makes, in extensions.code.
const (
	CodeBadRequest         = "BAD_REQUEST"
	CodeCSRF               = "CSRF_PREFLIGHT_REQUIRED"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeBadUserInput       = "BAD_USER_INPUT"
	CodeDepthLimit         = "DEPTH_LIMIT_EXCEEDED"
	CodeAliasLimit         = "ALIAS_LIMIT_EXCEEDED"
	CodeRootFieldLimit     = "ROOT_FIELD_LIMIT_EXCEEDED"
	CodeComplexityLimit    = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeIntrospectionOff   = "INTROSPECTION_DISABLED"
	codeMethodNotSupported = "METHOD_NOT_ALLOWED"
)

func init() {
	// Refusals of the operation itself are request errors (HTTP 422), not
	// execution errors (200), like gqlgen's own parse and validation errors.
	for _, code := range []string{CodeBadUserInput, CodeDepthLimit, CodeAliasLimit, CodeRootFieldLimit,
		CodeComplexityLimit, CodeIntrospectionOff} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

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

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	def(&l.MaxTokens, 1000)
	def(&l.MaxDepth, 15)
	def(&l.MaxAliases, 15)
	def(&l.MaxRootFields, 10)
	def(&l.MaxComplexity, 250)
	def(&l.MaxArgumentBytes, 4096)
	return l
}

// Options configures the handler.
type Options struct {
	Limits Limits
	// Introspection allows __schema and __type. Production turns it off.
	Introspection bool
	// Suggestions lets validation errors say "Did you mean ...?", which
	// reveals the schema; production turns them off.
	Suggestions bool
	// ErrorPresenter and RecoverFunc are gqlgen's; nil: gqlgen's defaults.
	ErrorPresenter graphql.ErrorPresenterFunc
	RecoverFunc    graphql.RecoverFunc
}

// New returns the GraphQL endpoint for es: POST with a JSON body, and GET
// for queries, each guarded as the package doc says.
func New(es graphql.ExecutableSchema, o Options) http.Handler {
	lim := o.Limits.withDefaults()
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{lim: lim})
	srv.AddTransport(postTransport{lim: lim})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(lim.MaxTokens)
	srv.SetDisableSuggestion(!o.Suggestions)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&operationLimits{lim: lim, introspection: o.Introspection})
	srv.Use(extension.FixedComplexityLimit(lim.MaxComplexity))
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
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		WriteError(w, http.StatusMethodNotAllowed, codeMethodNotSupported, "this endpoint accepts "+allow)
	})
}

// WriteError writes a GraphQL-shaped error response.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeResponse(w, status, &graphql.Response{Errors: gqlerror.List{coded(code, msg)}})
}

func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

func coded(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// execute runs params and writes the response, with the status gqlgen's own
// transports would give: 422 for a request the operation stage refused.
func execute(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, params *graphql.RawParams, queriesOnly bool) {
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
		}
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	if queriesOnly && oc.Operation.Operation != ast.Query {
		// A GET may be sent by a link or an image: it must never change anything.
		WriteError(w, http.StatusMethodNotAllowed, codeMethodNotSupported, "only queries may be sent with GET; send mutations with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, http.StatusOK, responses(ctx))
}
