package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/internal/origin"
)

const testToken = "s3cret"

// contract is the OpenAPI document as a client gets it, from the handler
// that serves it, with what validating exchanges against it needs.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	// seen collects the "METHOD status" pairs real exchanges produced, so a
	// test can tell whether every documented response was exercised.
	seen map[string]bool
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	rec := httptest.NewRecorder()
	OpenAPI().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("the served document does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{doc: doc, router: router, seen: map[string]bool{}}
}

// bearerPresent accepts a request that carries a bearer token at all:
// whether it is the right one is the service's call, and a wrong one must
// still get a documented answer.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// verdict is what the document says of a request.
type verdict int

const (
	conforming verdict = iota // the document accepts it
	refused                   // the document rejects it too
	proseOnly                 // only the document's prose rules it out: OpenAPI cannot express the rule
)

func (c *contract) requestInput(t *testing.T, req *http.Request) *openapi3filter.RequestValidationInput {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", req.Method, req.URL, err)
	}
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:    bearerPresent,
			IncludeResponseStatus: true,
			SkipSettingDefaults:   true,
			MultiError:            true,
		},
	}
}

// validateResponse checks one response against the document. openapi3filter
// skips 304 as bodiless, so for it the documented headers are checked here,
// with the same JSON Schema 2020-12 validator.
func (c *contract) validateResponse(in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	if status != http.StatusNotModified {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: status, Header: header, Options: in.Options,
		}
		out.SetBodyBytes(body)
		return openapi3filter.ValidateResponse(context.Background(), out)
	}
	ref := in.Route.Operation.Responses.Status(status)
	if ref == nil {
		return fmt.Errorf("status %d is not documented", status)
	}
	if len(body) > 0 && len(ref.Value.Content) == 0 {
		return fmt.Errorf("status %d has a body; the document gives it none", status)
	}
	for name, h := range ref.Value.Headers {
		raw := header.Get(name)
		if raw == "" {
			if h.Value.Required {
				return fmt.Errorf("required header %s is missing", name)
			}
			continue
		}
		schema := h.Value.Schema.Value
		var v any = raw
		if !schema.Type.Is(openapi3.TypeString) {
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return fmt.Errorf("header %s: %q is not a %v", name, raw, schema.Type)
			}
		}
		if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("header %s: %w", name, err)
		}
	}
	return nil
}

// exchange is one real request and its response.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// do sends a real request to srv, and checks the request (as v says) and
// the response against the document.
func (c *contract) do(t *testing.T, srv *httptest.Server, method, rawQuery string, v verdict, header ...string) exchange {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = rawQuery
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	in := c.requestInput(t, req)
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case v == conforming && reqErr != nil:
		t.Errorf("%s ?%.40s: the document refuses this request, which the service accepts as valid: %v", method, rawQuery, reqErr)
	case v == refused && reqErr == nil:
		t.Errorf("%s ?%.40s: the document accepts this request; want it refused, as the service refuses it", method, rawQuery)
	}

	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	c.seen[method+" "+fmt.Sprint(resp.StatusCode)] = true
	if err := c.validateResponse(in, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("%s ?%.40s: the %d response does not match the document: %v\nheaders: %v\nbody: %s", method, rawQuery, resp.StatusCode, err, resp.Header, body)
	}
	return exchange{resp.StatusCode, resp.Header, body}
}

// serveShim runs the shim behind a real HTTP server, mounted as routes.go
// mounts it.
func serveShim(t *testing.T, store cache.Store, co cache.Options, o Options) *httptest.Server {
	t.Helper()
	c, err := cache.New(store, co)
	if err != nil {
		t.Fatal(err)
	}
	o.Cache = c
	if o.Origin == nil {
		o.Origin = origin.Generator{}
	}
	if o.Query == nil {
		o.Query = dataQueries(cache.Policy{TTL: 5 * time.Second})
	}
	h := New(o)
	mux := http.NewServeMux()
	mux.Handle("GET /data", h.Get())
	mux.Handle("DELETE /data", h.Delete())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return srv
}

func memoryStore(t *testing.T) *cache.MemoryStore {
	t.Helper()
	s, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// downStore is a cache store that cannot be reached.
type downStore struct{}

var errDown = errors.New("connection refused")

func (downStore) Get(context.Context, string) ([]byte, error)         { return nil, errDown }
func (downStore) GetMany(context.Context, []string) ([][]byte, error) { return nil, errDown }
func (downStore) Claim(context.Context, string, string, time.Duration) (cache.Claim, error) {
	return cache.Claim{}, errDown
}
func (downStore) Fill(context.Context, string, []byte, []byte, time.Duration, string) (bool, error) {
	return false, errDown
}
func (downStore) Release(context.Context, string, string) error { return errDown }
func (downStore) Replace(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errDown
}
func (downStore) Tag(context.Context, string, []string, time.Time, time.Time) (time.Time, error) {
	return time.Time{}, errDown
}
func (downStore) Purge(context.Context, []string, time.Time, time.Duration) ([]string, error) {
	return nil, errDown
}
func (downStore) ReplaceAll(context.Context, []string, []byte, time.Duration) (int, error) {
	return 0, errDown
}
func (downStore) Soften(context.Context, []string, uint64, time.Time) (int, error) {
	return 0, errDown
}
func (downStore) Ping(context.Context) error { return errDown }
func (downStore) Describe() string           { return "down" }

// switchOrigin answers like the built-in origin until it is turned down.
type switchOrigin struct{ down atomic.Bool }

func (o *switchOrigin) Fetch(ctx context.Context, req origin.Request) (cache.Fetched, error) {
	if o.down.Load() {
		return cache.Fetched{}, errDown
	}
	return origin.Generator{}.Fetch(ctx, req)
}

// clock is a settable cache clock, so a test can step past freshness
// without sleeping.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func decodeAnswer(t *testing.T, ex exchange) (source, cachedAt string, expiresIn int) {
	t.Helper()
	var b struct {
		Source           string `json:"source"`
		CachedAt         string `json:"cached_at"`
		ExpiresInSeconds int    `json:"expires_in_seconds"`
	}
	if err := json.Unmarshal(ex.body, &b); err != nil {
		t.Fatalf("body %s: %v", ex.body, err)
	}
	return b.Source, b.CachedAt, b.ExpiresInSeconds
}

func TestOpenAPIDocumentIsServedAndValid(t *testing.T) {
	rec := httptest.NewRecorder()
	OpenAPI().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %q; want 200 application/json", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !json.Valid(rec.Body.Bytes()) || rec.Body.String() != string(openAPIDoc) {
		t.Error("the served body is not the embedded JSON document")
	}
	etag := rec.Header().Get("ETag")
	again := httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	again.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	OpenAPI().ServeHTTP(rec, again)
	if etag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %q: got %d; want 304", etag, rec.Code)
	}

	c := loadContract(t)
	// 3.1, not 3.0: openapi3filter then validates with JSON Schema 2020-12,
	// which the $ref-with-siblings error schemas depend on.
	if !c.doc.IsOpenAPI31OrLater() || c.doc.OpenAPIMajorMinor() != "3.1" {
		t.Errorf("openapi = %q; want an OpenAPI 3.1 document", c.doc.OpenAPI)
	}

	// The document's limits and codes are the handler's.
	q := c.doc.Components.Parameters["Query"].Value.Schema.Value
	if q.MaxLength == nil || int(*q.MaxLength) != New(Options{}).o.MaxQueryLen {
		t.Errorf("query maxLength = %v; want the handler's default %d", q.MaxLength, New(Options{}).o.MaxQueryLen)
	}
	var codes []string
	for _, v := range c.doc.Components.Schemas["Error"].Value.Properties["code"].Value.Enum {
		codes = append(codes, v.(string))
	}
	want := []string{httpapi.CodeBadRequest, httpapi.CodeUnauthorized, httpapi.CodeNotFound, httpapi.CodeOriginBusy,
		httpapi.CodeOriginUnavailable, httpapi.CodeOriginTimeout, httpapi.CodeStoreUnavailable, httpapi.CodeInternal}
	if !slices.Equal(slices.Sorted(slices.Values(codes)), slices.Sorted(slices.Values(want))) {
		t.Errorf("documented error codes %v; want the handler's %v", codes, want)
	}
}

// TestOpenAPIMatchesRealExchanges sends real requests to the real handler,
// one for every documented response and then some, and validates each
// request and response against the document.
func TestOpenAPIMatchesRealExchanges(t *testing.T) {
	c := loadContract(t)
	srv := serveShim(t, memoryStore(t), cache.Options{}, Options{AdminToken: testToken})
	bearer := "Bearer " + testToken

	t.Run("GET", func(t *testing.T) {
		first := c.do(t, srv, http.MethodGet, "query=weather:paris", conforming)
		src, at, exp := decodeAnswer(t, first)
		if first.status != http.StatusOK || src != "database" || exp != 5 {
			t.Fatalf("first request: %d %s; want 200 from the database, 5 seconds left", first.status, first.body)
		}
		hit := c.do(t, srv, http.MethodGet, "query=weather%3Aparis", conforming)
		if src, hitAt, _ := decodeAnswer(t, hit); src != "cache" || hitAt != at {
			t.Errorf("second request: %s at %s; want the cache, at %s", src, hitAt, at)
		}
		etag := hit.header.Get("ETag")
		if nm := c.do(t, srv, http.MethodGet, "query=weather:paris", conforming, "If-None-Match", `W/"x", `+etag); nm.status != http.StatusNotModified || len(nm.body) != 0 {
			t.Errorf("If-None-Match naming the entry: %d %q; want 304 with no body", nm.status, nm.body)
		}
		if other := c.do(t, srv, http.MethodGet, "query=weather:paris", conforming, "If-None-Match", `W/"other"`); other.status != http.StatusOK {
			t.Errorf("If-None-Match naming another entry: %d; want 200", other.status)
		}
		for _, raw := range []string{"", "query=", "query=caf%C3%A9+%F0%9F%98%80", "query=" + strings.Repeat("x", 4096),
			"foo=bar", "_=1700000000", "query=a&foo=bar", "b=2&a=1&a=3"} {
			if ex := c.do(t, srv, http.MethodGet, raw, conforming); ex.status != http.StatusOK {
				t.Errorf("?%.40s: %d %s; want 200", raw, ex.status, ex.body)
			}
		}
	})

	t.Run("GET bad parameters", func(t *testing.T) {
		for _, tc := range []struct {
			raw string
			v   verdict
		}{
			{"query=" + strings.Repeat("x", 4097), refused},
			{"query=a&query=b", proseOnly},
			{"foo=" + strings.Repeat("x", 4097), proseOnly},
			{"query=%zz", proseOnly},
			{"query=a;b", proseOnly},
			{"query=%ff%fe", proseOnly},
			{"foo=%ff", proseOnly},
			{"foo=a%0Ab", proseOnly},
		} {
			if ex := c.do(t, srv, http.MethodGet, tc.raw, tc.v); ex.status != http.StatusBadRequest {
				t.Errorf("?%.40s: %d %s; want 400", tc.raw, ex.status, ex.body)
			}
		}
	})

	t.Run("GET stale and uncached", func(t *testing.T) {
		var clk clock
		clk.Advance(time.Duration(time.Now().UnixNano()))
		flaky := &switchOrigin{}
		stale := serveShim(t, memoryStore(t), cache.Options{Stale: time.Minute, Now: clk.Now}, Options{Origin: flaky, Stale: time.Minute})
		c.do(t, stale, http.MethodGet, "query=a", conforming)
		clk.Advance(6 * time.Second)
		flaky.down.Store(true)
		ex := c.do(t, stale, http.MethodGet, "query=a", conforming)
		if src, _, exp := decodeAnswer(t, ex); ex.status != http.StatusOK || src != "cache" || exp != 0 || !strings.Contains(ex.header.Get("Cache-Status"), "ttl=-") {
			t.Errorf("stale copy with the origin down: %d %s %v; want 200 from the cache, 0 seconds, a negative ttl", ex.status, ex.body, ex.header)
		}

		private := serveShim(t, memoryStore(t), cache.Options{}, Options{
			Origin: origin.Generator{}, Query: dataQueries(cache.Policy{TTL: 5 * time.Second, Scope: cache.ScopePrivate}),
		})
		ex = c.do(t, private, http.MethodGet, "query=a", conforming)
		if ex.status != http.StatusOK || ex.header.Get("Cache-Control") != "no-store" || ex.header.Get("ETag") != "" {
			t.Errorf("private, no caller: %d %v; want 200, no-store, no ETag", ex.status, ex.header)
		}

		storeDown := serveShim(t, downStore{}, cache.Options{}, Options{Origin: origin.Generator{}, AdminToken: testToken})
		if ex := c.do(t, storeDown, http.MethodGet, "query=a", conforming); ex.status != http.StatusOK {
			t.Errorf("store down: %d %s; want 200 from the origin", ex.status, ex.body)
		}
	})

	t.Run("GET origin failures", func(t *testing.T) {
		failing := serveShim(t, memoryStore(t), cache.Options{}, Options{Origin: errorOrigin{}})
		if ex := c.do(t, failing, http.MethodGet, "query=a", conforming); ex.status != http.StatusBadGateway {
			t.Errorf("origin down: %d %s; want 502", ex.status, ex.body)
		}
		slow := serveShim(t, memoryStore(t), cache.Options{OriginTimeout: 50 * time.Millisecond},
			Options{Origin: origin.Generator{Delay: 10 * time.Second}})
		if ex := c.do(t, slow, http.MethodGet, "query=a", conforming); ex.status != http.StatusGatewayTimeout {
			t.Errorf("slow origin: %d %s; want 504", ex.status, ex.body)
		}
	})

	t.Run("GET the origin's signals and refusals", func(t *testing.T) {
		missing := serveShim(t, memoryStore(t), cache.Options{}, Options{Origin: signalOrigin{fetched: cache.Fetched{NotFound: true}}})
		for range 2 { // from the origin, then from the negative entry
			if ex := c.do(t, missing, http.MethodGet, "query=a", conforming); ex.status != http.StatusNotFound || !strings.Contains(string(ex.body), `"NOT_FOUND"`) {
				t.Errorf("missing item: %d %s; want 404 NOT_FOUND", ex.status, ex.body)
			}
		}
		pausing := serveShim(t, memoryStore(t), cache.Options{}, Options{Origin: signalOrigin{err: &cache.RetryAfterError{After: 30 * time.Second, Err: errors.New("503")}}})
		for range 2 { // the origin's own answer, then a refusal without a call
			if ex := c.do(t, pausing, http.MethodGet, "query=a", conforming); ex.status != http.StatusServiceUnavailable || ex.header.Get("Retry-After") != "30" {
				t.Errorf("origin asking for a pause: %d %s %v; want 503 with Retry-After 30", ex.status, ex.body, ex.header)
			}
		}
		gate := gateOrigin{entered: make(chan struct{}), open: make(chan struct{})}
		busy := serveShim(t, memoryStore(t), cache.Options{OriginMaxInflight: 1, OriginQueueWait: time.Millisecond}, Options{Origin: gate})
		held := make(chan struct{})
		go func() {
			defer close(held)
			if resp, err := http.Get(busy.URL + "/data?query=held"); err == nil {
				resp.Body.Close()
			}
		}()
		<-gate.entered
		if ex := c.do(t, busy, http.MethodGet, "query=b", conforming); ex.status != http.StatusServiceUnavailable || !strings.Contains(string(ex.body), `"ORIGIN_BUSY"`) {
			t.Errorf("every slot taken: %d %s; want 503 ORIGIN_BUSY", ex.status, ex.body)
		}
		close(gate.open)
		<-held
	})

	t.Run("DELETE", func(t *testing.T) {
		c.do(t, srv, http.MethodGet, "query=gone", conforming)
		if ex := c.do(t, srv, http.MethodDelete, "query=gone", conforming, "Authorization", bearer); ex.status != http.StatusOK || string(ex.body) != `{"invalidated":true}`+"\n" {
			t.Errorf("DELETE of a stored entry: %d %s; want 200 invalidated true", ex.status, ex.body)
		}
		if ex := c.do(t, srv, http.MethodDelete, "query=never-stored", conforming, "Authorization", bearer); ex.status != http.StatusOK || string(ex.body) != `{"invalidated":false}`+"\n" {
			t.Errorf("DELETE of nothing: %d %s; want 200 invalidated false", ex.status, ex.body)
		}
		for _, tc := range []struct {
			name, auth string
			v          verdict
		}{
			{"no token", "", refused},
			{"another scheme", "Basic YWRtaW46czNjcmV0", refused},
			{"wrong token", "Bearer wrong", conforming},
		} {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			if ex := c.do(t, srv, http.MethodDelete, "query=a", tc.v, hdr...); ex.status != http.StatusUnauthorized {
				t.Errorf("%s: %d %s; want 401", tc.name, ex.status, ex.body)
			}
		}
		for _, raw := range []string{"", "query=a&x=1"} {
			c.do(t, srv, http.MethodGet, raw, conforming)
			if ex := c.do(t, srv, http.MethodDelete, raw, conforming, "Authorization", bearer); ex.status != http.StatusOK || string(ex.body) != `{"invalidated":true}`+"\n" {
				t.Errorf("DELETE ?%s after GET ?%s: %d %s; want 200, invalidated", raw, raw, ex.status, ex.body)
			}
		}
		if ex := c.do(t, srv, http.MethodDelete, "query=a&query=b", proseOnly, "Authorization", bearer); ex.status != http.StatusBadRequest {
			t.Errorf("DELETE with query twice: %d %s; want 400", ex.status, ex.body)
		}
		c.do(t, srv, http.MethodGet, "query=weather:paris", conforming)
		if ex := c.do(t, srv, http.MethodDelete, "tag=weather&tag=news&soft=true", conforming, "Authorization", bearer); ex.status != http.StatusOK ||
			string(ex.body) != `{"tags":["weather","news"],"soft":false,"entries":1}`+"\n" {
			t.Errorf("DELETE by tag: %d %s; want 200 naming the tags, 1 entry, not soft (no stale window)", ex.status, ex.body)
		}
		if ex := c.do(t, srv, http.MethodDelete, "tag=a%20b", refused, "Authorization", bearer); ex.status != http.StatusBadRequest {
			t.Errorf("DELETE by an invalid tag: %d %s; want 400", ex.status, ex.body)
		}
		storeDown := serveShim(t, downStore{}, cache.Options{}, Options{Origin: origin.Generator{}, AdminToken: testToken})
		for _, raw := range []string{"query=a", "tag=weather"} {
			if ex := c.do(t, storeDown, http.MethodDelete, raw, conforming, "Authorization", bearer); ex.status != http.StatusServiceUnavailable {
				t.Errorf("DELETE ?%s with the store down: %d %s; want 503", raw, ex.status, ex.body)
			}
		}
	})

	// No request reaches the handler's 500 branch (it guards against errors
	// the cache does not return today), so its writer is checked directly.
	t.Run("500", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			rec := httptest.NewRecorder()
			httpapi.WriteError(rec, httpapi.CodeInternal, "internal error")
			req := httptest.NewRequest(method, "http://example.test/data?query=a", nil)
			if err := c.validateResponse(c.requestInput(t, req), rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Errorf("%s 500: %v", method, err)
			}
			c.seen[method+" 500"] = true
		}
	})

	var documented []string
	for _, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, status := range op.Responses.Keys() {
				documented = append(documented, method+" "+status)
			}
		}
	}
	slices.Sort(documented)
	if seen := slices.Sorted(maps.Keys(c.seen)); !slices.Equal(seen, documented) {
		t.Errorf("responses exercised: %v\nresponses documented: %v\nwant the same", seen, documented)
	}
}

// signalOrigin answers every query with what it holds.
type signalOrigin struct {
	fetched cache.Fetched
	err     error
}

func (o signalOrigin) Fetch(context.Context, origin.Request) (cache.Fetched, error) {
	return o.fetched, o.err
}

// gateOrigin holds every call until open is closed, telling entered first.
type gateOrigin struct{ entered, open chan struct{} }

func (o gateOrigin) Fetch(ctx context.Context, req origin.Request) (cache.Fetched, error) {
	o.entered <- struct{}{}
	<-o.open
	return origin.Generator{}.Fetch(ctx, req)
}

type errorOrigin struct{}

func (errorOrigin) Fetch(context.Context, origin.Request) (cache.Fetched, error) {
	return cache.Fetched{}, errors.New("dial tcp 10.0.0.7:5432: connection refused")
}

// TestOpenAPIRejectsWrongResponses shows that the validation above has
// teeth: responses that break the document one way each are refused.
func TestOpenAPIRejectsWrongResponses(t *testing.T) {
	c := loadContract(t)
	okHeader := func() http.Header {
		return http.Header{
			"Content-Type":  {"application/json"},
			"Cache-Control": {"public, max-age=5"},
			"Age":           {"0"},
			"Etag":          {`W/"abc"`},
			"Cache-Status":  {"gqlcache; fwd=uri-miss; stored"},
		}
	}
	const okBody = `{"source":"database","data":{"any":["json",null]},"cached_at":"2026-11-26T05:07:51.442+00:00","expires_in_seconds":5}`
	get := c.requestInput(t, httptest.NewRequest(http.MethodGet, "http://example.test/data?query=a", nil))
	del := c.requestInput(t, httptest.NewRequest(http.MethodDelete, "http://example.test/data?query=a", nil))
	if err := c.validateResponse(get, http.StatusOK, okHeader(), []byte(okBody)); err != nil {
		t.Fatalf("the well-formed response is refused: %v", err)
	}
	for _, naive := range []string{"2026-11-26T06:07:51.442000", "2026-11-26T06:07:51"} {
		body := strings.Replace(okBody, "2026-11-26T05:07:51.442+00:00", naive, 1)
		if err := c.validateResponse(get, http.StatusOK, okHeader(), []byte(body)); err != nil {
			t.Errorf("the well-formed response with a naive cached_at %s is refused: %v", naive, err)
		}
	}

	with := func(k, v string) http.Header {
		h := okHeader()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	errHeader := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	for _, tc := range []struct {
		name   string
		in     *openapi3filter.RequestValidationInput
		status int
		header http.Header
		body   string
		reason string // what the refusal must name
	}{
		{"undocumented status", get, http.StatusTeapot, errHeader, `{"error":"x","code":"BAD_REQUEST"}`, "status is not supported"},
		{"source neither cache nor database", get, 200, okHeader(), strings.Replace(okBody, `"database"`, `"redis"`, 1), "/source"},
		{"cached_at without milliseconds", get, 200, okHeader(), strings.Replace(okBody, `51.442+00:00`, `51+00:00`, 1), "/cached_at"},
		{"cached_at not in UTC", get, 200, okHeader(), strings.Replace(okBody, `442+00:00`, `442+01:00`, 1), "/cached_at"},
		{"cached_at with a Z, which Python before 3.11 cannot read", get, 200, okHeader(), strings.Replace(okBody, `442+00:00`, `442Z`, 1), "/cached_at"},
		{"naive cached_at with milliseconds", get, 200, okHeader(), strings.Replace(okBody, `442+00:00`, `442`, 1), "/cached_at"},
		{"negative expires_in_seconds", get, 200, okHeader(), strings.Replace(okBody, `:5}`, `:-1}`, 1), "/expires_in_seconds"},
		{"fractional expires_in_seconds", get, 200, okHeader(), strings.Replace(okBody, `:5}`, `:4.5}`, 1), "/expires_in_seconds"},
		{"missing data", get, 200, okHeader(), `{"source":"cache","cached_at":"2026-11-26T05:07:51.442+00:00","expires_in_seconds":5}`, "'data'"},
		{"extra field", get, 200, okHeader(), strings.TrimSuffix(okBody, "}") + `,"stale":false}`, "'stale'"},
		{"missing Cache-Status", get, 200, with("Cache-Status", ""), okBody, `"Cache-Status" missing`},
		{"missing Age", get, 200, with("Age", ""), okBody, `"Age" missing`},
		{"negative Age", get, 200, with("Age", "-1"), okBody, `"Age"`},
		{"strong ETag", get, 200, with("Etag", `"abc"`), okBody, `"ETag"`},
		{"unknown Cache-Control", get, 200, with("Cache-Control", "max-age=5"), okBody, `"Cache-Control"`},
		{"304 without ETag", get, 304, with("Etag", ""), "", "ETag"},
		{"502 with another code", get, 502, errHeader, `{"error":"x","code":"ORIGIN_TIMEOUT"}`, "ORIGIN_UNAVAILABLE"},
		{"error without a message", get, 400, errHeader, `{"error":"","code":"BAD_REQUEST"}`, "/error"},
		{"cacheable error", get, 504, http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"public, max-age=5"}}, `{"error":"x","code":"ORIGIN_TIMEOUT"}`, "no-store"},
		{"401 without WWW-Authenticate", del, 401, errHeader, `{"error":"x","code":"UNAUTHORIZED"}`, "WWW-Authenticate"},
		{"invalidated not a boolean", del, 200, http.Header{"Content-Type": {"application/json"}}, `{"invalidated":"yes"}`, "/invalidated"},
	} {
		err := c.validateResponse(tc.in, tc.status, tc.header, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: got %.300v; want a refusal naming %s", tc.name, err, tc.reason)
		}
	}
}
