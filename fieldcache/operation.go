package fieldcache

import (
	"context"
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
)

// operation is what the extension keeps for one response: the batch its
// cached fields read together, what each of them did, and what that makes
// of the response's Cache-Control.
type operation struct {
	done  chan struct{}
	batch *cache.Batch
	debug bool

	mu      sync.Mutex
	report  []Report
	cached  bool // a cached field was answered
	maxAge  int  // the least freshness left among them, in seconds
	private bool
	noStore bool // some part of the response is live, failed or not stored
}

// A Report is what the cache did for one cached field of a response, as
// extensions.cache lists it for a request allowed to see it.
type Report struct {
	Path          ast.Path `json:"path"`
	Coordinate    string   `json:"coordinate"`
	Status        Status   `json:"status"`
	AgeSeconds    int      `json:"ageSeconds"`
	MaxAgeSeconds int      `json:"maxAgeSeconds"`
	Tags          []string `json:"tags"`
}

type operationKey struct{}

func operationFrom(ctx context.Context) *operation {
	op, _ := ctx.Value(operationKey{}).(*operation)
	return op
}

// over reports whether the response has been written.
func (op *operation) over() bool {
	select {
	case <-op.done:
		return true
	default:
		return false
	}
}

// live marks the response as holding a value answered afresh each time.
func (op *operation) live() {
	op.mu.Lock()
	op.noStore = true
	op.mu.Unlock()
}

func (op *operation) answered(fc *graphql.FieldContext, f *cachedField, status Status, res cache.Result) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if f.policy.Scope == cache.ScopePrivate {
		op.private = true
	}
	switch {
	case status == StatusHit || (status == StatusMiss && res.Stored):
		if left := res.ExpiresIn(); !op.cached || left < op.maxAge {
			op.maxAge = left
		}
		op.cached = true
	default:
		op.noStore = true
	}
	if op.debug {
		op.report = append(op.report, Report{
			Path:          fc.Path(),
			Coordinate:    f.coordinate,
			Status:        status,
			AgeSeconds:    res.Age(),
			MaxAgeSeconds: res.MaxAge(),
			Tags:          res.Tags(),
		})
	}
}

// cacheControl is the response's Cache-Control: the least freshness left
// among the fields answered, private if any was private, and no-store when
// any part of it is live, failed or was not stored. Empty: the response
// holds no field that says (only __typename, say).
func (op *operation) cacheControl(resp *graphql.Response) string {
	op.mu.Lock()
	defer op.mu.Unlock()
	switch {
	case op.noStore || len(resp.Errors) > 0 || (op.cached && op.maxAge <= 0):
		return "no-store"
	case !op.cached:
		return ""
	case op.private:
		return "private, max-age=" + strconv.Itoa(op.maxAge)
	default:
		return "public, max-age=" + strconv.Itoa(op.maxAge)
	}
}

// InterceptResponse implements graphql.ResponseInterceptor: it follows one
// response, lists what the cache did for a request allowed to see it, and
// hands the response's Cache-Control to Handler.
func (e *Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := &operation{done: make(chan struct{}), batch: cache.NewBatch()}
	if oc := graphql.GetOperationContext(ctx); oc != nil {
		op.debug = e.debugAllowed(oc.Headers)
	}
	resp := next(context.WithValue(ctx, operationKey{}, op))
	close(op.done)
	if resp == nil {
		return nil
	}
	if op.debug {
		op.mu.Lock()
		report := op.report
		op.mu.Unlock()
		if report == nil {
			report = []Report{}
		}
		slices.SortFunc(report, func(a, b Report) int { return strings.Compare(a.Path.String(), b.Path.String()) })
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cache"] = report
	}
	if w := writerFrom(ctx); w != nil {
		w.set(op.cacheControl(resp))
	}
	return resp
}

// debugAllowed reports whether a request's headers ask for the cache report
// and bear the admin token.
func (e *Extension) debugAllowed(h http.Header) bool {
	if e.opts.AdminToken == "" || !strings.EqualFold(h.Get("Cache-Debug"), "true") {
		return false
	}
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(token), []byte(e.opts.AdminToken)) == 1
}
