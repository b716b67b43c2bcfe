package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/playground/playgroundtest"
	"github.com/gqlcache/gqlcache/internal/servicetest"
)

// endpoint is the real GraphQL endpoint on the embedded store, with
// introspection on as in development, so that GraphiQL loads the schema. A
// TTL far above the test's length: the second run must find the entry fresh
// however slow the browser is.
func endpoint(t *testing.T) http.Handler {
	t.Helper()
	d := servicetest.Deps(t, origin.Generator{}, 10*time.Minute, cache.Options{})
	return servicetest.Endpoint(d, gqlhttp.Options{Introspection: true, Suggestions: true})
}

var (
	sourceRe   = regexp.MustCompile(`"source":\s*"([A-Z]+)"`)
	cachedAtRe = regexp.MustCompile(`"cachedAt":\s*"([^"]+)"`)
)

// TestPlaygroundBrowser is the page as a person uses it: headless Chromium
// opens GraphiQL, runs the default query twice with the run button and
// reads the answers from the result panel: DATABASE, then CACHE with the
// same cachedAt. The assets are a local copy of the npm packages, served
// by the handler from AssetsDir, or by another web server (another origin,
// which the Content-Security-Policy must let in) named by AssetsURL.
func TestPlaygroundBrowser(t *testing.T) {
	dir := playgroundtest.Assets(t)
	// The local copy is byte for byte what the CDN default serves.
	for _, a := range assets {
		b, err := os.ReadFile(filepath.Join(dir, a.pkg, filepath.FromSlash(a.file)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); got != a.sri {
			t.Errorf("%s/%s in %s: %s; want the pinned %s@%s's %s", a.pkg, a.file, dir, got, a.pkg, a.version, a.sri)
		}
	}

	t.Run("AssetsDir", func(t *testing.T) {
		s := browse(t, Options{AssetsDir: dir})
		t.Logf("screenshot: %s (kept as %s)", s.Screenshot, playgroundtest.KeepScreenshot(t, s.Screenshot))
	})
	t.Run("AssetsURL", func(t *testing.T) {
		mirror := httptest.NewServer(http.StripPrefix("/npm/", http.FileServer(http.Dir(dir))))
		t.Cleanup(mirror.Close)
		browse(t, Options{AssetsURL: mirror.URL + "/npm/"})
	})
}

// browse serves the page with o beside a fresh GraphQL endpoint, runs the
// default query twice in Chromium and checks what the page showed.
func browse(t *testing.T, o Options) playgroundtest.Session {
	t.Helper()
	var (
		mu        sync.Mutex
		preflight []string // the header on each POST GraphiQL sent
	)
	gql := endpoint(t)
	mux := http.NewServeMux()
	page := Handler(o)
	mux.Handle("GET /{$}", page)
	mux.Handle("GET "+AssetsPath, page)
	mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			preflight = append(preflight, r.Header.Get("Apollo-Require-Preflight"))
			mu.Unlock()
		}
		gql.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	start := time.Now()
	s := playgroundtest.RunDefaultQuery(playgroundtest.Browser(t), t, srv.URL+"/", 2)
	t.Logf("Chromium started, opened the page, ran the query twice and took the screenshot in %v", time.Since(start).Round(time.Millisecond))

	if !strings.Contains(s.Query, "DATABASE") || !strings.Contains(s.Query, "CACHE") {
		t.Errorf("the editor's query does not explain the flip:\n%s", s.Query)
	}
	if !strings.Contains(s.Docs, "query") || !strings.Contains(s.Docs, "Query") {
		t.Errorf("the docs explorer does not show the schema's query type:\n%s", s.Docs)
	}
	var sources, cachedAts []string
	for i, r := range s.Results {
		src, at := sourceRe.FindStringSubmatch(r), cachedAtRe.FindStringSubmatch(r)
		if src == nil || at == nil {
			t.Fatalf("run %d: the result panel has no source or cachedAt:\n%s", i+1, r)
		}
		sources, cachedAts = append(sources, src[1]), append(cachedAts, at[1])
	}
	if sources[0] != "DATABASE" || sources[1] != "CACHE" {
		t.Errorf("sources %q; want DATABASE, then CACHE\nfirst:\n%s\nsecond:\n%s", sources, s.Results[0], s.Results[1])
	}
	if cachedAts[0] != cachedAts[1] {
		t.Errorf("cachedAt %q then %q; want one entry's instant twice", cachedAts[0], cachedAts[1])
	}
	if len(s.Problems) > 0 {
		t.Errorf("the page logged problems (a CSP refusal, a failed load, an exception):\n%s", strings.Join(s.Problems, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	// The schema's introspection and the two runs, each with the header.
	if len(preflight) < 3 || slices.ContainsFunc(preflight, func(h string) bool { return h != "true" }) {
		t.Errorf("Apollo-Require-Preflight on GraphiQL's POSTs: %q; want true on each of at least 3", preflight)
	}
	return s
}
