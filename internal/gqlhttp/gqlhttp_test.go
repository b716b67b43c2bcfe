package gqlhttp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/plan"
	"github.com/gqlcache/gqlcache/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is the real GraphQL endpoint on the embedded store, with plans.
func endpoint(t testing.TB) http.Handler {
	t.Helper()
	d := servicetest.Deps(t, origin.Generator{}, 5*time.Second, cache.Options{})
	return servicetest.Endpoint(d, gqlhttp.Options{Compiler: plan.New(d)})
}

func post(h http.Handler, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIntrospectionInDevelopmentPassesTheLimits(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{})
	h := gqlhttp.New(schema, gqlhttp.Options{Introspection: true})
	// The query GraphiQL sends on load must fit the default limits.
	q, _ := json.Marshal(introspection.Query)
	body := `{"query":` + string(q) + `}`
	rec := post(h, "application/json", body)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
		t.Errorf("full introspection: got %d %.300s; want 200 without errors", rec.Code, rec.Body.String())
	}
}

func TestAnswersAValidQuery(t *testing.T) {
	rec := post(endpoint(t), "application/json; charset=utf-8", `{"query":"{ data(query: \"x\") { source } }"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"source":"DATABASE"`) {
		t.Errorf("got %d %s; want 200 with DATABASE", rec.Code, rec.Body.String())
	}
}

// FuzzPost sends arbitrary bodies to the real endpoint: whatever arrives,
// the answer is a JSON response below 500.
func FuzzPost(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ data(query: \"x\") { source data cachedAt expiresInSeconds stale } }"}`,
		`{"query":"query($q: String!) { data(query: $q) { source } }","variables":{"q":"x"}}`,
		`{"query":"mutation { invalidate(query: \"x\") }"}`,
		`{"query":"{ ...A } fragment A on Query { __typename }","operationName":null}`,
		`[{"query":"{ __typename }"}]`,
		`{"query":"{ data(query: [[[\"x\"]]]) { source } }"}`,
		`{"query": 5}`, `{`, ``, "\xff",
	} {
		f.Add(seed)
	}
	h := endpoint(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := post(h, "application/json", body)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("body %q: Content-Type %q; want JSON", body, ct)
		}
	})
}

func TestContentNegotiation(t *testing.T) {
	const (
		js  = "application/json"
		gql = "application/graphql-response+json; charset=utf-8"
	)
	h := endpoint(t)
	for _, tc := range []struct {
		name, accept string
		status       int
		contentType  string
	}{
		{"no Accept", "", 200, js},
		{"application/json", "application/json", 200, js},
		{"graphql-response+json", "application/graphql-response+json", 200, gql},
		{"any type", "*/*", 200, js},
		{"any application type", "application/*", 200, js},
		{"Apollo Client's preference", "application/graphql-response+json,application/json;q=0.9", 200, gql},
		{"json preferred by quality", "application/graphql-response+json;q=0.5, application/json", 200, js},
		{"exact type beats a range of equal quality", "*/*, application/graphql-response+json", 200, gql},
		{"equal quality, first listed", "application/graphql-response+json, application/json", 200, gql},
		{"a browser's navigation", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, js},
		{"json refused by q=0", "application/json;q=0, */*", 200, gql},
		{"neither type", "text/html", 406, js},
		{"both refused", "application/json;q=0, application/graphql-response+json;q=0", 406, js},
		{"malformed quality", "application/graphql-response+json;q=high, text/plain", 406, js},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, query := range []string{
				`{ __typename }`,                  // executed by gqlgen
				`{ data(query: "x") { source } }`, // answered by a compiled plan
			} {
				body, _ := json.Marshal(map[string]string{"query": query})
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.status || rec.Header().Get("Content-Type") != tc.contentType {
					t.Errorf("%s: got %d %q; want %d %q (%s)", query, rec.Code, rec.Header().Get("Content-Type"),
						tc.status, tc.contentType, rec.Body.String())
				}
			}
		})
	}
}

// TestRequestErrorStatusByMediaType holds request errors (the operation
// never ran) to the spec: 200 for application/json, 400 for
// application/graphql-response+json, and no data entry in either; errors
// raised while executing keep 200 and their data entry.
func TestRequestErrorStatusByMediaType(t *testing.T) {
	h := servicetest.Endpoint(servicetest.Deps(t, origin.Generator{}, 5*time.Second, cache.Options{}),
		gqlhttp.Options{Limits: gqlhttp.Limits{MaxRootFields: 1}})
	for _, tc := range []struct {
		name, body string
		code       string
		json, gql  int  // status by media type
		data       bool // a data entry is present
	}{
		{"parse error", `{"query":"{"}`, "GRAPHQL_PARSE_FAILED", 200, 400, false},
		{"validation error", `{"query":"{ nope }"}`, "GRAPHQL_VALIDATION_FAILED", 200, 400, false},
		{"variable coercion", `{"query":"query($q: String!) { data(query: $q) { source } }","variables":{"q":{}}}`, "BAD_USER_INPUT", 200, 400, false},
		{"variable missing", `{"query":"query($q: String!) { data(query: $q) { source } }","variables":{}}`, "BAD_USER_INPUT", 200, 400, false},
		{"variable of the wrong scalar", `{"query":"query($q: String!) { data(query: $q) { source } }","variables":{"q":5}}`, "BAD_USER_INPUT", 200, 400, false},
		{"unknown operation name", `{"query":"query A { __typename }","operationName":"B"}`, "GRAPHQL_VALIDATION_FAILED", 200, 400, false},
		{"root field limit", `{"query":"{ a: __typename b: __typename }"}`, "ROOT_FIELD_LIMIT_EXCEEDED", 200, 400, false},
		{"introspection off", `{"query":"{ __schema { __typename } }"}`, "INTROSPECTION_DISABLED", 200, 400, false},
		{"missing query", `{"variables":{}}`, "BAD_REQUEST", 400, 400, false},
		{"query not a string", `{"query":5}`, "BAD_REQUEST", 400, 400, false},
		{"execution error", `{"query":"mutation { invalidate(query: \"x\") }"}`, "FORBIDDEN", 200, 200, true},
	} {
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			t.Run(tc.name+"/"+accept, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", accept)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				want := tc.json
				if accept != "application/json" {
					want = tc.gql
				}
				var resp struct {
					Data   *json.RawMessage `json:"data"`
					Errors []struct {
						Extensions struct{ Code string }
					}
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &resp)
				var fields map[string]json.RawMessage
				_ = json.Unmarshal(rec.Body.Bytes(), &fields)
				_, hasData := fields["data"]
				if rec.Code != want || hasData != tc.data || len(resp.Errors) == 0 || resp.Errors[0].Extensions.Code != tc.code {
					t.Errorf("got %d, data entry %t: %s; want %d, data entry %t, code %s", rec.Code, hasData, rec.Body.String(), want, tc.data, tc.code)
				}
				if cc := rec.Header().Get("Cache-Control"); !tc.data && cc != "no-store" {
					t.Errorf("Cache-Control %q; want no-store", cc)
				}
			})
		}
	}
}
