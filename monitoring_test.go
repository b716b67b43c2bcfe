package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Each answer is counted once, at the door it left by, whichever GraphQL
// executor built it: the operator's hit ratio per door and per field rests
// on that.
func TestFieldResultsCountEachAnswerAtItsDoor(t *testing.T) {
	for _, plans := range []string{"true", "false"} {
		t.Run("COMPILED_PLANS="+plans, func(t *testing.T) {
			s := startService(t, map[string]string{"COMPILED_PLANS": plans})
			const op = `query($q: String!) { data(query: $q) { source } }`
			if r := s.post(op, map[string]any{"q": "paris"}); r.field(t, "data").Source != "DATABASE" {
				t.Fatalf("first GraphQL answer: %s; want one from the origin", r.raw)
			}
			// Two aliased fields in one operation are two answers.
			if r := s.post(`{ a: data(query: "paris") { source } b: data(query: "paris") { source } }`, nil); r.field(t, "a").Source != "CACHE" {
				t.Fatalf("second GraphQL answer: %s; want hits", r.raw)
			}
			if r := s.rest(http.MethodGet, q("paris")); r.body.Source != "cache" {
				t.Fatalf("REST answer: %s; want a hit", r.raw)
			}
			if r := s.rest(http.MethodGet, "query=a&query=b"); r.status != http.StatusBadRequest {
				t.Fatalf("bad REST request: got %d; want 400", r.status)
			}
			want := map[string]float64{
				`door="graphql",field="Query.data",status="miss"`: 1,
				`door="graphql",field="Query.data",status="hit"`:  2,
				`door="rest",field="Query.data",status="hit"`:     1,
				// A request refused before the cache was asked is no field's answer.
				`door="rest",field="Query.data",status="error"`: 0,
				`door="rest",field="Query.data",status="miss"`:  0,
			}
			for labels, n := range want {
				if got := s.sample("gqlcache_field_results_total{" + labels + "}"); got != n {
					t.Errorf("gqlcache_field_results_total{%s} = %v; want %v", labels, got, n)
				}
			}
		})
	}
}

// sample reads the value of one exact series (name and every label, in the
// order the scrape writes them) from /metrics; -1 when it is absent.
func (s *service) sample(series string) float64 {
	s.t.Helper()
	_, body := s.get("/metrics")
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				s.t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// A purge is counted by what it addressed, whichever door asked for it.
func TestPurgesAreCounted(t *testing.T) {
	s := startService(t, map[string]string{"ADMIN_TOKEN": "secret"})
	const key, tags = `gqlcache_cache_purges_total{by="key"}`, `gqlcache_cache_purges_total{by="tags"}`
	if k, g := s.sample(key), s.sample(tags); k != 0 || g != 0 {
		t.Fatalf("before any purge: by key %v, by tags %v; want both series at 0", k, g)
	}
	auth := []string{"Authorization", "Bearer secret"}
	if r := s.rest(http.MethodDelete, q("paris"), auth...); r.status != http.StatusOK {
		t.Fatalf("DELETE by query: %d %s", r.status, r.raw)
	}
	if r := s.rest(http.MethodDelete, "tag=city", auth...); r.status != http.StatusOK {
		t.Fatalf("DELETE by tag: %d %s", r.status, r.raw)
	}
	if r := s.post(`mutation { invalidateTags(tags: ["city"]) }`, nil, auth...); len(r.Errors) > 0 {
		t.Fatalf("invalidateTags: %s", r.raw)
	}
	if r := s.rest(http.MethodDelete, q("x")); r.status != http.StatusUnauthorized {
		t.Fatalf("DELETE without the token: got %d; want 401", r.status)
	}
	if k, g := s.sample(key), s.sample(tags); k != 1 || g != 2 {
		t.Errorf("after one purge by key and two by tag (and one refused): by key %v, by tags %v; want 1 and 2", k, g)
	}
}
