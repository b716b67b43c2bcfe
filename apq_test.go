package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// persistedGET sends a query by its hash only, as an APQ client's GET.
func (s *service) persistedGET(hash string) gqlResponse {
	s.t.Helper()
	ext, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?extensions="+url.QueryEscape(string(ext)), nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	return s.doGQL(req)
}

func TestAutomaticPersistedQueriesOverGET(t *testing.T) {
	env := redisEnv(t)
	a, b := startService(t, env), startService(t, env)
	query := `{ data(query: "apq") { source cachedAt expiresInSeconds } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])

	r := a.persistedGET(hash)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: got %s; want PERSISTED_QUERY_NOT_FOUND", r.raw)
	}
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	body, _ := json.Marshal(map[string]any{"query": query, "extensions": ext})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if r := a.doGQL(req); r.field(t, "data").Source != "DATABASE" {
		t.Fatalf("registering the query: got %s", r.raw)
	}

	// Another process on the same Redis knows the hash, and its GET answer
	// says how long HTTP caches may keep it.
	for i := range 2 {
		r := b.persistedGET(hash)
		if r.field(t, "data").Source != "CACHE" {
			t.Fatalf("GET %d by hash on the other process: got %s; want the cached answer", i, r.raw)
		}
		if cc := r.header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") || cc == "public, max-age=0" {
			t.Errorf("GET %d: Cache-Control %q; want public, max-age=N", i, cc)
		}
	}
}

func TestCORS(t *testing.T) {
	s := startService(t, map[string]string{"CORS_ORIGINS": "https://app.example.com"})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.url+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "apollo-require-preflight,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("https://app.example.com"); resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight from the allowed origin: %d with Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if resp := preflight("https://evil.example.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: allowed (%q); want no CORS headers", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	r := s.post(fullSelection, nil, "Origin", "https://app.example.com")
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("POST from the allowed origin: Access-Control-Allow-Origin %q", got)
	}
}
