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

	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is the real GraphQL endpoint on the embedded store.
func endpoint(t testing.TB) http.Handler {
	t.Helper()
	return servicetest.Endpoint(servicetest.Resolver(t, origin.Generator{}, 5*time.Second, cache.Options{}), gqlhttp.Options{})
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
