package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/internal/redistest"
)

func TestPurgeByTag(t *testing.T) {
	s := startService(t, redisEnv(t, "ADMIN_TOKEN", "s3cret", "CACHE_TTL", "1h", "CACHE_STALE", "1m"))
	const tagged = `{ data(query: "weather:paris") { source stale tags } }`
	r := s.post(tagged, nil)
	if got := string(r.Data["data"]); !strings.Contains(got, `"tags":["weather"]`) {
		t.Fatalf("tags of weather:paris: got %s; want [\"weather\"]", r.raw)
	}
	if rr := s.rest(http.MethodGet, q("weather:paris")); rr.header.Get("Cache-Tag") != "weather" || rr.body.Source != "cache" || strings.Contains(rr.raw, "tags") {
		t.Errorf("REST hit: got Cache-Tag %q, %s; want Cache-Tag weather and the original body shape", rr.header.Get("Cache-Tag"), rr.raw)
	}
	if rr := s.rest(http.MethodGet, q("news:today")); rr.header.Get("Cache-Tag") != "news" {
		t.Errorf("REST miss: got Cache-Tag %q; want news", rr.header.Get("Cache-Tag"))
	}
	if rr := s.rest(http.MethodGet, q("plain")); rr.header.Values("Cache-Tag") != nil {
		t.Errorf("untagged answer: got Cache-Tag %q; want none", rr.header.Values("Cache-Tag"))
	}

	const purge = `mutation { invalidateTags(tags: ["weather"]) }`
	if r := s.post(purge, nil, "Authorization", "Bearer wrong"); len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("invalidateTags with a wrong token: got %s; want FORBIDDEN", r.raw)
	}
	if rr := s.rest(http.MethodDelete, "tag=weather"); rr.status != http.StatusUnauthorized {
		t.Errorf("DELETE ?tag without a token: got %d %s; want 401", rr.status, rr.raw)
	}
	if got := s.post(tagged, nil).field(t, "data"); got.Source != "CACHE" {
		t.Fatalf("after refused purges: got %s; want the entry untouched", got.Source)
	}

	if r := s.post(purge, nil, "Authorization", "Bearer s3cret"); string(r.Data["invalidateTags"]) != "true" {
		t.Fatalf("invalidateTags with the token: got %s; want true", r.raw)
	}
	if got := s.post(tagged, nil).field(t, "data"); got.Source != "DATABASE" {
		t.Errorf("after a hard purge: got %s; want DATABASE", got.Source)
	}
	if got := s.rest(http.MethodGet, q("news:today")); got.body.Source != "cache" {
		t.Errorf("another tag after the purge: got %s; want cache", got.body.Source)
	}

	rr := s.rest(http.MethodDelete, "tag=news&tag=weather&soft=true", "Authorization", "Bearer s3cret")
	var body struct {
		Tags    []string `json:"tags"`
		Soft    bool     `json:"soft"`
		Entries int      `json:"entries"`
	}
	if err := json.Unmarshal([]byte(rr.raw), &body); rr.status != http.StatusOK || err != nil || strings.Join(body.Tags, " ") != "news weather" || !body.Soft || body.Entries != 2 {
		t.Errorf("DELETE ?tag=news&tag=weather&soft=true: got %d %s; want 200 naming both tags, soft, 2 entries", rr.status, rr.raw)
	}
	if got := s.rest(http.MethodGet, q("news:today")); got.body.Source != "cache" || !strings.Contains(got.header.Get("Cache-Status"), "ttl=-") {
		t.Errorf("after a soft purge: got %s, Cache-Status %q; want a stale hit", got.body.Source, got.header.Get("Cache-Status"))
	}
	if got := s.post(tagged, nil).field(t, "data"); got.Stale == nil || !*got.Stale {
		t.Errorf("GraphQL after a soft purge: got stale %v; want true", got.Stale)
	}

	for _, bad := range []string{"tag=", "tag=a%20b", "tag=a&soft=maybe", "tag=a&query=b", "tag=a&soft=true&soft=false"} {
		if rr := s.rest(http.MethodDelete, bad, "Authorization", "Bearer s3cret"); rr.status != http.StatusBadRequest || rr.body.Code != "BAD_REQUEST" {
			t.Errorf("DELETE ?%s: got %d %s; want 400 BAD_REQUEST", bad, rr.status, rr.raw)
		}
	}
	if r := s.post(`mutation { invalidateTags(tags: ["a b"]) }`, nil, "Authorization", "Bearer s3cret"); len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("invalidateTags with a bad tag: got %s; want BAD_USER_INPUT", r.raw)
	}
}

func TestPurgeByTagWithStoreDownFailsLoudly(t *testing.T) {
	srv := redistest.Start(t)
	s := startService(t, map[string]string{"REDIS_URL": srv.URL(), "ADMIN_TOKEN": "s3cret"})
	srv.Kill()
	if rr := s.rest(http.MethodDelete, "tag=weather", "Authorization", "Bearer s3cret"); rr.status != http.StatusServiceUnavailable || rr.body.Code != "STORE_UNAVAILABLE" {
		t.Errorf("DELETE ?tag with Redis down: got %d %s; want 503 STORE_UNAVAILABLE", rr.status, rr.raw)
	}
	r := s.post(`mutation { invalidateTags(tags: ["weather"], soft: true) }`, nil, "Authorization", "Bearer s3cret")
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "STORE_UNAVAILABLE" {
		t.Errorf("invalidateTags with Redis down: got %s; want STORE_UNAVAILABLE", r.raw)
	}
}

// TestPurgeByTagReachesAnotherProcess: two service processes share a
// Redis, each with a near cache holding entries for a minute; a purge on
// one must drop the other's copies within the announcement's delay.
func TestPurgeByTagReachesAnotherProcess(t *testing.T) {
	env := redisEnv(t, "ADMIN_TOKEN", "s3cret", "NEAR_CACHE_TTL", "1m", "CACHE_TTL", "1h")
	a, b := startProcess(t, env), startProcess(t, env)
	first := a.rest(http.MethodGet, q("weather:paris"))
	for range 2 { // the second read comes from b's near cache
		if r := b.rest(http.MethodGet, q("weather:paris")); r.body.CachedAt != first.body.CachedAt {
			t.Fatalf("b: got %s; want a's entry", r.raw)
		}
	}
	start := time.Now()
	if r := a.rest(http.MethodDelete, "tag=weather", "Authorization", "Bearer s3cret"); r.status != http.StatusOK {
		t.Fatalf("DELETE ?tag=weather on a: %d %s", r.status, r.raw)
	}
	deadline := start.Add(2 * time.Second)
	for b.rest(http.MethodGet, q("weather:paris")).body.CachedAt == first.body.CachedAt {
		if time.Now().After(deadline) {
			t.Fatal("b still serves the purged entry 2s after a's purge; want the announcement to drop it")
		}
	}
	t.Logf("b dropped the purged entry %v after a's DELETE began", time.Since(start))
	if n := b.metric("gqlcache_cache_near_hits_total"); n < 1 {
		t.Errorf("b's near hits = %v; want its reads served from the near cache before the purge", n)
	}
}
