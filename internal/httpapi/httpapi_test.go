package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/httpapi"
)

func TestCacheControl(t *testing.T) {
	for _, tc := range []struct {
		f    httpapi.Freshness
		want string
	}{
		{httpapi.Freshness{}, "no-store"},
		{httpapi.Freshness{MaxAge: 5}, "no-store"},
		{httpapi.Freshness{Cacheable: true, MaxAge: 5}, "public, max-age=5"},
		{httpapi.Freshness{Cacheable: true, Private: true, MaxAge: 5}, "private, max-age=5"},
		{httpapi.Freshness{Cacheable: true, MaxAge: 5, Stale: 30}, "public, max-age=5, stale-while-revalidate=30, stale-if-error=30"},
	} {
		if got := tc.f.CacheControl(); got != tc.want {
			t.Errorf("%+v: got %q; want %q", tc.f, got, tc.want)
		}
	}
}

func TestCollectorKeepsWhatEveryPartAllows(t *testing.T) {
	pub := func(age int) httpapi.Freshness { return httpapi.Freshness{Cacheable: true, MaxAge: age} }
	for _, tc := range []struct {
		name  string
		parts []httpapi.Freshness
		want  string
	}{
		{"no part", nil, "no-store"},
		{"one part", []httpapi.Freshness{pub(5)}, "public, max-age=5"},
		{"the shortest", []httpapi.Freshness{pub(9), pub(3), pub(5)}, "public, max-age=3"},
		{"one private part", []httpapi.Freshness{pub(9), {Cacheable: true, Private: true, MaxAge: 7}}, "private, max-age=7"},
		{"one uncacheable part", []httpapi.Freshness{pub(9), {}, pub(5)}, "no-store"},
		{"a part at zero", []httpapi.Freshness{pub(9), pub(0)}, "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, c := httpapi.WithCollector(context.Background())
			var wg sync.WaitGroup
			for _, f := range tc.parts {
				wg.Go(func() { httpapi.Collect(ctx, f) })
			}
			wg.Wait()
			if got := c.Freshness().CacheControl(); got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
		})
	}
	httpapi.Collect(context.Background(), pub(5)) // no collector: nothing happens
}

func TestEveryCodeHasItsStatus(t *testing.T) {
	for _, tc := range []struct {
		code httpapi.Code
		want int
	}{
		{httpapi.CodeBadRequest, 400},
		{httpapi.CodeCSRF, 400},
		{httpapi.CodeUnauthorized, 401},
		{httpapi.CodeForbidden, 403},
		{httpapi.CodeNotFound, 404},
		{httpapi.CodeMethodNotAllowed, 405},
		{httpapi.CodeNotAcceptable, 406},
		{httpapi.CodePayloadTooLarge, 413},
		{httpapi.CodeURITooLong, 414},
		{httpapi.CodeUnsupportedMedia, 415},
		{httpapi.CodeDocumentNotFound, 400},
		{httpapi.CodeTrustedOnly, 403},
		{httpapi.CodeBadUserInput, 400},
		{httpapi.CodeDepthLimit, 400},
		{httpapi.CodeAliasLimit, 400},
		{httpapi.CodeRootFieldLimit, 400},
		{httpapi.CodeComplexityLimit, 400},
		{httpapi.CodeIntrospectionOff, 400},
		{httpapi.CodeInternal, 500},
		{httpapi.CodeOriginUnavailable, 502},
		{httpapi.CodeOriginTimeout, 504},
		{httpapi.CodeStoreUnavailable, 503},
		{"NO_SUCH_CODE", 500},
	} {
		if got := httpapi.Status(tc.code); got != tc.want {
			t.Errorf("Status(%s) = %d; want %d", tc.code, got, tc.want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	rec := httptest.NewRecorder()
	httpapi.Error{Message: "internal error", Code: httpapi.CodeInternal, RequestID: "r-1"}.Write(rec)
	var body map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Cache-Control") != "no-store" ||
		fmt.Sprint(body) != fmt.Sprint(map[string]string{"error": "internal error", "code": "INTERNAL_SERVER_ERROR", "request_id": "r-1"}) {
		t.Errorf("got %d %v %s; want 500, JSON, no-store, the error, code and request id", rec.Code, rec.Header(), rec.Body.String())
	}
}

func TestCacheErrorNeverCarriesTheChain(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code       httpapi.Code
		status     int
		retryAfter string
	}{
		{fmt.Errorf("%w: dial tcp 10.0.0.7:6379", cache.ErrStoreUnavailable), httpapi.CodeStoreUnavailable, 503, ""},
		{fmt.Errorf("%w: https://upstream.internal/x", cache.ErrOriginUnavailable), httpapi.CodeOriginUnavailable, 502, ""},
		{fmt.Errorf("%w: after 10s", cache.ErrOriginTimeout), httpapi.CodeOriginTimeout, 504, ""},
		{fmt.Errorf("%w: https://upstream.internal/x", cache.ErrOriginNotFound), httpapi.CodeNotFound, 404, ""},
		{&cache.RefusedError{Err: cache.ErrOriginBusy, RetryAfter: 1500 * time.Millisecond}, httpapi.CodeOriginBusy, 503, "2"},
		{&cache.RefusedError{Err: fmt.Errorf("%w: 503 from https://upstream.internal/x", cache.ErrOriginUnavailable), RetryAfter: 30 * time.Second},
			httpapi.CodeOriginUnavailable, 503, "30"},
	} {
		e, ok := httpapi.CacheError(tc.err)
		if !ok || e.Code != tc.code || e.Message == tc.err.Error() || strings.Contains(e.Message, "upstream.internal") {
			t.Errorf("%v: got %s %q %t; want %s with a message of its own", tc.err, e.Code, e.Message, ok, tc.code)
		}
		rec := httptest.NewRecorder()
		e.Write(rec)
		if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: written as %d with Retry-After %q; want %d with %q", tc.err, rec.Code, rec.Header().Get("Retry-After"), tc.status, tc.retryAfter)
		}
	}
	if _, ok := httpapi.CacheError(fmt.Errorf("other")); ok {
		t.Error("an error the cache did not raise: got ok; want not")
	}
}

// Each door has one code for bad input, an invalid tag included: REST's
// BAD_REQUEST, GraphQL's BAD_USER_INPUT.
func TestBadInputHasOneCodePerDoor(t *testing.T) {
	err := fmt.Errorf("%w: %q: a tag is printable ASCII without spaces or commas", cache.ErrInvalidTag, "a b")
	e, ok := httpapi.CacheError(err)
	if !ok {
		t.Fatalf("%v: got not ok; want a client error", err)
	}
	rec := httptest.NewRecorder()
	e.Write(rec)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":"BAD_REQUEST"`) {
		t.Errorf("over REST: got %d %s; want 400 BAD_REQUEST", rec.Code, rec.Body.String())
	}
	if g := e.GraphQL(); g.Extensions["code"] != httpapi.CodeBadUserInput || g.Message != err.Error() {
		t.Errorf("over GraphQL: got %v %q; want BAD_USER_INPUT %q", g.Extensions["code"], g.Message, err.Error())
	}
	refused := httpapi.Error{Code: httpapi.CodeOriginBusy, Message: "busy", RetryAfter: 2}.GraphQL()
	if refused.Extensions["code"] != httpapi.CodeOriginBusy || refused.Extensions["retryAfter"] != 2 {
		t.Errorf("a refusal over GraphQL: got %v; want ORIGIN_BUSY with retryAfter 2", refused.Extensions)
	}
}
