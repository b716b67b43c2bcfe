package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

// downOrigin fails for the query "down" and answers every other.
type downOrigin struct{ origin.Generator }

func (o downOrigin) Fetch(ctx context.Context, req origin.Request) (cache.Fetched, error) {
	if req.Query == "down" {
		return cache.Fetched{}, errors.New("connection refused")
	}
	return o.Generator.Fetch(ctx, req)
}

// TestGraphQLGETCacheControlWhicheverExecutor: a GraphQL GET's
// Cache-Control says what its cached fields allow, the same whether a
// compiled plan or gqlgen's executor answered.
func TestGraphQLGETCacheControlWhicheverExecutor(t *testing.T) {
	for _, plans := range []string{"true", "false"} {
		t.Run("COMPILED_PLANS="+plans, func(t *testing.T) {
			s := startWithOrigin(t, redisEnv(t, "COMPILED_PLANS", plans, "CACHE_TTL", "60s"), downOrigin{})
			private := startWithOrigin(t, redisEnv(t, "COMPILED_PLANS", plans, "CACHE_TTL", "60s", "CACHE_SCOPE", "private"), downOrigin{})
			for _, tc := range []struct {
				name   string
				s      *service
				query  string
				header []string
				want   string
			}{
				{"one field", s, `{ data(query: "a") { source cachedAt } }`, nil, `^public, max-age=(60|59)$`},
				{"two fields", s, `{ a: data(query: "a") { source } b: data(query: "b") { stale } }`, nil, `^public, max-age=(60|59)$`},
				{"no cached field", s, `{ __typename }`, nil, `^no-store$`},
				{"a failed field", s, `{ a: data(query: "a") { source } b: data(query: "down") { source } }`, nil, `^no-store$`},
				{"a private field", private, `{ data(query: "a") { source } }`, []string{"Authorization", "Bearer someone"}, `^private, max-age=(60|59)$`},
				{"a private field without a caller", private, `{ data(query: "a") { source } }`, nil, `^no-store$`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					for i := range 2 { // the miss that fills, then the hit (and a plan, once compiled)
						req, _ := http.NewRequest(http.MethodGet, tc.s.url+"/graphql?query="+url.QueryEscape(tc.query), nil)
						req.Header.Set("Apollo-Require-Preflight", "true")
						for j := 0; j+1 < len(tc.header); j += 2 {
							req.Header.Set(tc.header[j], tc.header[j+1])
						}
						r := tc.s.doGQL(req)
						if cc := r.header.Get("Cache-Control"); !regexp.MustCompile(tc.want).MatchString(cc) {
							t.Errorf("request %d: Cache-Control %q; want %s (%s)", i, cc, tc.want, r.raw)
						}
					}
				})
			}
		})
	}
}
