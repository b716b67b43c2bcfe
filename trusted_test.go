package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifest is the trusted documents' manifest GraphQL Code Generator
// writes for client/operations.graphql.
const manifest = "client/web/persisted-documents.json"

// manifestID returns the id under which the manifest lists the operation
// named op.
func manifestID(t *testing.T, op string) string {
	t.Helper()
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var docs map[string]string
	if err := json.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	for id, text := range docs {
		if strings.Contains(text, " "+op+"(") {
			return id
		}
	}
	t.Fatalf("%s has no operation %s", manifest, op)
	return ""
}

// postJSON sends body as a GraphQL POST.
func (s *service) postJSON(body map[string]any) gqlResponse {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return s.doGQL(req)
}

// getParams sends a GraphQL GET with params, preflighted.
func (s *service) getParams(params url.Values) gqlResponse {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?"+params.Encode(), nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	return s.doGQL(req)
}

func code(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// TestTrustedDocumentsOnly runs a service that answers only its manifest's
// operations: by documentId with or without the sha256: prefix, over POST
// and GET, by an Apollo client's persisted query hash, or as the exact
// text; anything else is refused before it reaches the origin.
func TestTrustedDocumentsOnly(t *testing.T) {
	env := redisEnv(t, "PERSISTED_DOCUMENTS", manifest, "TRUSTED_DOCUMENTS_ONLY", "true", "MODE", "production")
	org := &countingOrigin{}
	s := startWithOrigin(t, env, org)
	id := manifestID(t, "GetData")
	bare := strings.TrimPrefix(id, "sha256:")
	vars := map[string]any{"query": "trusted"}
	varsJSON, _ := json.Marshal(vars)

	first := s.postJSON(map[string]any{"documentId": id, "variables": vars})
	if first.status != 200 || first.field(t, "data").Source != "DATABASE" {
		t.Fatalf("POST documentId %s: got %d %s; want 200 DATABASE", id, first.status, first.raw)
	}
	cachedAt := first.field(t, "data").CachedAt

	raw, _ := os.ReadFile(manifest)
	var docs map[string]string
	_ = json.Unmarshal(raw, &docs)
	for _, tc := range []struct {
		name string
		send func() gqlResponse
	}{
		{"POST bare documentId", func() gqlResponse {
			return s.postJSON(map[string]any{"documentId": bare, "variables": vars})
		}},
		{"GET documentId", func() gqlResponse {
			return s.getParams(url.Values{"documentId": {id}, "variables": {string(varsJSON)}})
		}},
		{"POST persisted query hash", func() gqlResponse {
			return s.postJSON(map[string]any{"variables": vars,
				"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": bare}}})
		}},
		{"GET persisted query hash", func() gqlResponse {
			ext, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": bare}})
			return s.getParams(url.Values{"extensions": {string(ext)}, "variables": {string(varsJSON)}})
		}},
		{"POST the manifest's text", func() gqlResponse {
			return s.postJSON(map[string]any{"query": docs[id], "variables": vars})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.send()
			if r.status != 200 || r.field(t, "data").Source != "CACHE" || r.field(t, "data").CachedAt != cachedAt {
				t.Errorf("got %d %s; want 200 CACHE cached at %s", r.status, r.raw, cachedAt)
			}
			if strings.HasPrefix(tc.name, "GET") {
				if cc := r.header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") || cc == "public, max-age=0" {
					t.Errorf("Cache-Control %q; want public, max-age=N as any cacheable GET", cc)
				}
			}
		})
	}

	fetches := org.n.Load()
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"an operation not in the manifest", map[string]any{"query": `{ data(query: "other") { source } }`}, 403, "TRUSTED_DOCUMENT_REQUIRED"},
		{"the manifest's operation, reworded", map[string]any{"query": `query GetData($query: String!) { data(query: $query) { source } }`, "variables": vars}, 403, "TRUSTED_DOCUMENT_REQUIRED"},
		{"an unknown persisted query hash", map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}}, 403, "TRUSTED_DOCUMENT_REQUIRED"},
		{"an unknown documentId", map[string]any{"documentId": "sha256:" + strings.Repeat("0", 64)}, 400, "PERSISTED_DOCUMENT_NOT_FOUND"},
		{"documentId and query", map[string]any{"documentId": id, "query": docs[id], "variables": vars}, 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.postJSON(tc.body)
			if r.status != tc.status || code(r) != tc.code || r.Data != nil {
				t.Errorf("got %d %s; want %d %s without data", r.status, r.raw, tc.status, tc.code)
			}
		})
	}
	if n := org.n.Load(); n != fetches {
		t.Errorf("origin fetches went from %d to %d on refused requests; want none", fetches, n)
	}
}

// TestPersistedDocumentsBesideAPQ: with a manifest but without
// TRUSTED_DOCUMENTS_ONLY, documents answer by id, and other operations,
// automatic persisted queries among them, work as before.
func TestPersistedDocumentsBesideAPQ(t *testing.T) {
	s := startService(t, redisEnv(t, "PERSISTED_DOCUMENTS", manifest))
	if r := s.postJSON(map[string]any{"documentId": manifestID(t, "GetData"), "variables": map[string]any{"query": "x"}}); r.field(t, "data").Source != "DATABASE" {
		t.Errorf("documentId: got %s; want DATABASE", r.raw)
	}
	if r := s.post(`{ data(query: "x") { source } }`, nil); r.field(t, "data").Source != "CACHE" {
		t.Errorf("another operation: got %s; want CACHE", r.raw)
	}
	query := `{ data(query: "apq beside documents") { source } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	if r := s.postJSON(map[string]any{"extensions": ext}); code(r) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("unknown APQ hash: got %s; want PERSISTED_QUERY_NOT_FOUND", r.raw)
	}
	if r := s.postJSON(map[string]any{"query": query, "extensions": ext}); r.field(t, "data").Source != "DATABASE" {
		t.Errorf("registering: got %s; want DATABASE", r.raw)
	}
	if r := s.postJSON(map[string]any{"extensions": ext}); r.field(t, "data").Source != "CACHE" {
		t.Errorf("by hash: got %s; want CACHE", r.raw)
	}
}

func TestBadManifestStopsTheService(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"missing file", []string{"PERSISTED_DOCUMENTS", filepath.Join(dir, "nope.json")}, "no such file"},
		{"not JSON", []string{"PERSISTED_DOCUMENTS", write("bad.json", "{")}, "not a JSON object"},
		{"an array", []string{"PERSISTED_DOCUMENTS", write("array.json", `["{ __typename }"]`)}, "not a JSON object"},
		{"empty", []string{"PERSISTED_DOCUMENTS", write("empty.json", "{}")}, "holds no documents"},
		{"a document the schema refuses", []string{"PERSISTED_DOCUMENTS",
			write("stale.json", `{"sha256:ab": "{ data(query: \"x\") { source } }", "sha256:cd": "{ gone }"}`)}, "document sha256:cd: Cannot query field \"gone\""},
		{"a document that does not parse", []string{"PERSISTED_DOCUMENTS", write("syntax.json", `{"ab": "{ data("}`)}, "document ab"},
		{"trusted only without a manifest", []string{"TRUSTED_DOCUMENTS_ONLY", "true"}, "TRUSTED_DOCUMENTS_ONLY: true needs PERSISTED_DOCUMENTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(env(tc.env...))
			if err == nil || !strings.Contains(err.Error(), tc.env[0]) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want an error naming %s and saying %q", err, tc.env[0], tc.want)
			}
		})
	}
}
