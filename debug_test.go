package main

import (
	"encoding/json"
	"testing"
)

// cacheReport is extensions.cache as a client reads it.
type cacheReport struct {
	Extensions struct {
		Cache []struct {
			Path          []any    `json:"path"`
			Coordinate    string   `json:"coordinate"`
			Status        string   `json:"status"`
			AgeSeconds    *int     `json:"ageSeconds"`
			MaxAgeSeconds int      `json:"maxAgeSeconds"`
			Tags          []string `json:"tags"`
		} `json:"cache"`
	} `json:"extensions"`
}

// TestCacheDebugReportNeedsTheToken: the data field says what the cache did
// for it, MISS then HIT, to a request bearing the admin token and
// Cache-Debug: true, though the compiled plans would otherwise answer it;
// to anyone else it says nothing.
func TestCacheDebugReportNeedsTheToken(t *testing.T) {
	s := startService(t, redisEnv(t, "ADMIN_TOKEN", "s3cret", "CACHE_TTL", "60s"))
	const op = `{ a: data(query: "weather:oslo") { source } }`
	report := func(header ...string) (cacheReport, string) {
		t.Helper()
		r := s.post(op, nil, header...)
		var rep cacheReport
		if err := json.Unmarshal([]byte(r.raw), &rep); err != nil {
			t.Fatal(err)
		}
		return rep, r.raw
	}
	for i, want := range []string{"MISS", "HIT"} {
		rep, raw := report("Authorization", "Bearer s3cret", "Cache-Debug", "true")
		if len(rep.Extensions.Cache) != 1 {
			t.Fatalf("request %d with the token: got %s; want one line in extensions.cache", i+1, raw)
		}
		line := rep.Extensions.Cache[0]
		if line.Status != want || line.Coordinate != "Query.data" || len(line.Path) != 1 || line.Path[0] != "a" ||
			line.MaxAgeSeconds != 60 || line.AgeSeconds == nil || line.Tags == nil {
			t.Errorf("request %d with the token: got %+v; want %s for Query.data at [a], maxAge 60, an age and a tag list", i+1, line, want)
		}
	}
	for _, h := range [][]string{
		{"Cache-Debug", "true"},
		{"Authorization", "Bearer wrong", "Cache-Debug", "true"},
		{"Authorization", "Bearer s3cret"},
	} {
		if rep, raw := report(h...); rep.Extensions.Cache != nil {
			t.Errorf("headers %q: got %s; want no extensions.cache", h, raw)
		}
	}
}
