package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/plan"
	"github.com/gqlcache/gqlcache/internal/servicetest"
)

// endpoints returns the GraphQL endpoint twice over one cache: with plans
// and with gqlgen executing everything.
func endpoints(t *testing.T, org origin.Origin) (planned, executed http.Handler, compiled *int) {
	t.Helper()
	// A still clock keeps expiresInSeconds from ticking between the two.
	now := time.Date(2026, 11, 26, 5, 0, 0, 123e6, time.UTC)
	d := servicetest.Deps(t, org, time.Hour, cache.Options{Now: func() time.Time { return now }})
	c := &countingCompiler{Compiler: plan.New(d)}
	return servicetest.Endpoint(d, gqlhttp.Options{Compiler: c}), servicetest.Endpoint(d, gqlhttp.Options{}), &c.n
}

// countingCompiler counts the operations compiled into plans.
type countingCompiler struct {
	*plan.Compiler
	n int
}

func (c *countingCompiler) Compile(oc *graphql.OperationContext) gqlhttp.Plan {
	p := c.Compiler.Compile(oc)
	if p != nil {
		c.n++
	}
	return p
}

func send(h http.Handler, body string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func body(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// TestPlansWriteWhatGqlgenWrites holds compiled plans to gqlgen's own
// output, byte for byte, on operations of every shape a plan accepts and a
// few it must leave to gqlgen.
func TestPlansWriteWhatGqlgenWrites(t *testing.T) {
	planned, executed, compiled := endpoints(t, origin.Generator{})
	ops := []struct {
		name, query string
		vars        map[string]any
	}{
		{"full selection", `{ data(query: "a") { source data cachedAt expiresInSeconds stale } }`, nil},
		{"alias and order", `{ x: data(query: "a") { stale when: cachedAt source } }`, nil},
		{"two root fields", `{ a: data(query: "a") { source data } b: data(query: "b") { cachedAt } }`, nil},
		{"merged field", `{ data(query: "a") { source } data(query: "a") { cachedAt source } }`, nil},
		{"fragments", `query Q { ...Root } fragment Root on Query { data(query: "a") { ...P ... on DataPayload { stale } } } fragment P on DataPayload { source data }`, nil},
		{"skip and include", `query($yes: Boolean!, $no: Boolean!) { data(query: "a") { source @include(if: $yes) data @skip(if: $yes) stale @include(if: $no) cachedAt } }`, map[string]any{"yes": true, "no": false}},
		{"typename", `{ __typename data(query: "a") { __typename source } }`, nil},
		{"variables", `query($q: String!) { data(query: $q) { source data expiresInSeconds } }`, map[string]any{"q": "c"}},
		{"unicode key and argument", `{ data(query: "café \"quoted\" \\ ") { source data } }`, nil},
		{"tags", `{ data(query: "weather:paris") { tags source } untagged: data(query: "a") { tags } }`, nil},
		{"tags needing escapes", `query($q: String!) { data(query: $q) { tags } }`, map[string]any{"q": `q"\\<&>:x`}},
		{"everything skipped", `{ data(query: "a") @skip(if: true) { source } }`, nil},
	}
	const uncompilable = 1 // everything skipped: nothing for a plan to do
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			b := body(op.query, op.vars)
			send(executed, b) // fill the entries, so both answer from the cache
			_, want := send(executed, b)
			for i := range 2 { // compiling, then from the plan
				code, got := send(planned, b)
				if code != http.StatusOK || got != want {
					t.Errorf("run %d: planned\n%s\nwant (gqlgen)\n%s", i, got, want)
				}
			}
		})
	}
	if want := len(ops) - uncompilable; *compiled != want {
		t.Errorf("%d operations compiled; want %d (each once, then served from its plan)", *compiled, want)
	}
}

type failingOrigin struct{}

func (failingOrigin) Fetch(context.Context, origin.Request) (cache.Fetched, error) {
	return cache.Fetched{}, errors.New("connection refused at 10.0.0.7")
}

func TestPlansReportErrorsAsGqlgenDoes(t *testing.T) {
	planned, executed, _ := endpoints(t, failingOrigin{})
	b := body(`{ d: data(query: "down") { source } }`, nil)
	_, want := send(executed, b)
	if !strings.Contains(want, "ORIGIN_UNAVAILABLE") {
		t.Fatalf("gqlgen's answer %s lacks the origin error", want)
	}
	for i := range 2 {
		if _, got := send(planned, b); got != want {
			t.Errorf("run %d: planned\n%s\nwant (gqlgen)\n%s", i, got, want)
		}
	}
}
