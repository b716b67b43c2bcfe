package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	gqlgenplayground "github.com/99designs/gqlgen/graphql/playground"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The client side of the tests' keep-alive connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

var (
	tag        = regexp.MustCompile(`(?s)<(?:script|link)\s([^>]*)>`)
	attr       = regexp.MustCompile(`(\w+)="([^"]*)"`)
	bootScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	configJSON = regexp.MustCompile(`(?s)<script id="playground-config" type="application/json">(.*?)</script>`)
)

// loads lists the page's external scripts and stylesheets as "URL
// integrity", whatever the markup's layout.
func loads(page string) []string {
	var out []string
	for _, m := range tag.FindAllStringSubmatch(page, -1) {
		a := map[string]string{}
		for _, kv := range attr.FindAllStringSubmatch(m[1], -1) {
			a[kv[1]] = html.UnescapeString(kv[2])
		}
		switch {
		case a["src"] != "":
			out = append(out, a["src"]+" "+a["integrity"])
		case a["rel"] == "stylesheet":
			out = append(out, a["href"]+" "+a["integrity"])
		}
	}
	slices.Sort(out)
	return out
}

func TestPlaygroundDefaultsToGqlgensCDNAssets(t *testing.T) {
	ours := get(t, Handler(Options{}), http.MethodGet, "/").Body.String()
	theirs := get(t, gqlgenplayground.Handler("x", "/graphql"), http.MethodGet, "/").Body.String()
	// Whatever gqlgen pins, with its hashes, is what the page loads, so a
	// gqlgen upgrade that moves its pins shows here.
	if got, want := loads(ours), loads(theirs); !slices.Equal(got, want) {
		t.Errorf("CDN assets:\n got %q\nwant %q (gqlgen's)", got, want)
	}
	if !strings.Contains(ours, `crossorigin="anonymous"`) {
		t.Error("SRI-checked cross-origin assets need crossorigin=anonymous")
	}
}

func TestPlaygroundLocalAssets(t *testing.T) {
	for _, tc := range []struct {
		opts       Options
		base, self string
	}{
		{Options{AssetsURL: "/assets/"}, "/assets/", "'self'"},
		{Options{AssetsURL: "/static/gql"}, "/static/gql/", "'self'"},
		{Options{AssetsDir: t.TempDir()}, AssetsPath, "'self'"},
		{Options{AssetsURL: "http://127.0.0.1:9000/graphiql/"}, "http://127.0.0.1:9000/graphiql/", "http://127.0.0.1:9000"},
	} {
		rec := get(t, Handler(tc.opts), http.MethodGet, "/")
		page := rec.Body.String()
		want := []string{
			tc.base + "graphiql/graphiql.min.css ",
			tc.base + "graphiql/graphiql.min.js ",
			tc.base + "react-dom/umd/react-dom.production.min.js ",
			tc.base + "react/umd/react.production.min.js ",
		}
		if got := loads(page); !slices.Equal(got, want) {
			t.Errorf("%+v: assets %q; want %q, without SRI", tc.opts, got, want)
		}
		if strings.Contains(page, "crossorigin") {
			t.Errorf("%+v: crossorigin makes a mirror without CORS headers fail to load", tc.opts)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src "+tc.self+" 'sha256-") || strings.Contains(csp, "jsdelivr") {
			t.Errorf("%+v: CSP %q; want scripts from %s only", tc.opts, csp, tc.self)
		}
	}
}

func TestPlaygroundPage(t *testing.T) {
	rec := get(t, Handler(Options{Title: `</title><script>alert(1)</script>`}), http.MethodGet, "/")
	page := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("got %d %q; want 200 HTML", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;/title&gt;&lt;script&gt;alert(1)") {
		t.Errorf("the title is not escaped:\n%s", page)
	}

	m := configJSON.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no config block in\n%s", page)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("config block is not JSON (%v): %s", err, m[1])
	}
	want := pageConfig{
		Endpoint:     "/graphql",
		Headers:      map[string]string{"Apollo-Require-Preflight": "true"},
		DefaultQuery: DefaultQuery,
		AssetsURL:    cdnBase,
	}
	if cfg.Endpoint != want.Endpoint || cfg.DefaultQuery != want.DefaultQuery || cfg.AssetsURL != want.AssetsURL ||
		len(cfg.Headers) != 1 || cfg.Headers["Apollo-Require-Preflight"] != "true" {
		t.Errorf("config %+v; want %+v", cfg, want)
	}
	if !strings.Contains(cfg.DefaultQuery, `data(query: "weather:paris")`) || !strings.Contains(cfg.DefaultQuery, "DATABASE") {
		t.Errorf("the default query does not show the cache: %s", cfg.DefaultQuery)
	}

	// The browser runs the boot script only if its hash is the one the
	// policy names, byte for byte.
	boot := bootScript.FindStringSubmatch(page)
	if boot == nil {
		t.Fatal("no inline boot script")
	}
	sum := sha256.Sum256([]byte(boot[1]))
	csp := rec.Header().Get("Content-Security-Policy")
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, h) {
		t.Errorf("CSP %q lacks the boot script's hash %s", csp, h)
	}
	for _, d := range []string{"default-src 'none'", "script-src https://cdn.jsdelivr.net 'sha256-", "connect-src 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}

	if rec := get(t, Handler(Options{Endpoint: "https://api.example.test/graphql"}), http.MethodGet, "/"); !strings.Contains(rec.Header().Get("Content-Security-Policy"), "connect-src https://api.example.test;") {
		t.Errorf("CSP %q: want connect-src of the endpoint's origin", rec.Header().Get("Content-Security-Policy"))
	}
	if rec := get(t, Handler(Options{}), http.MethodHead, "/"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: got %d with %d bytes; want 200 without a body", rec.Code, rec.Body.Len())
	}
	if rec := get(t, Handler(Options{}), http.MethodPost, "/"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" ||
		!strings.Contains(rec.Body.String(), `"code":"METHOD_NOT_ALLOWED"`) || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("POST: got %d Allow %q Cache-Control %q %q; want 405 GET, HEAD, no-store and the METHOD_NOT_ALLOWED body",
			rec.Code, rec.Header().Get("Allow"), rec.Header().Get("Cache-Control"), rec.Body.String())
	}
}

func TestPlaygroundCheckURL(t *testing.T) {
	for _, u := range []string{"/", "/assets/", "/graphql", "http://127.0.0.1:8080/x/", "https://cdn.example.test/npm/"} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v; want nil", u, err)
		}
	}
	for _, u := range []string{"", "assets/", "//evil.test/x", "javascript:alert(1)", "ftp://h/x", "http:///x",
		"/a?b=c", "/a#b", "http://u:p@h/", "/a'b", `/a"b`, "/a b", "/a;b", "/a<b"} {
		if err := CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) = nil; want an error", u)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Handler accepted AssetsURL javascript:alert(1)")
		}
	}()
	Handler(Options{AssetsURL: "javascript:alert(1)"})
}

// writeAssets lays out the files the page loads, with the given content.
func writeAssets(t *testing.T, dir string) {
	t.Helper()
	for _, a := range assets {
		p := filepath.Join(dir, a.pkg, filepath.FromSlash(a.file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("/* "+a.pkg+" */"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlaygroundCheckAssetsDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckAssetsDir(dir); err == nil || !strings.Contains(err.Error(), "graphiql/graphiql.min.js") {
		t.Errorf("empty dir: %v; want an error naming the missing files", err)
	}
	writeAssets(t, dir)
	if err := CheckAssetsDir(dir); err != nil {
		t.Errorf("complete dir: %v", err)
	}
	if err := CheckAssetsDir(""); err == nil {
		t.Error("no dir: want an error")
	}
}

func TestPlaygroundServesAssetsDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "assets")
	writeAssets(t, dir)
	for name, content := range map[string]string{".npmrc": "token", "graphiql/.secret": "x", "../outside.txt": "outside"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "outside.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	h := Handler(Options{AssetsDir: dir})

	rec := get(t, h, http.MethodGet, "/assets/graphiql/graphiql.min.js")
	if rec.Code != http.StatusOK || rec.Body.String() != "/* graphiql */" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("asset: got %d %q %q", rec.Code, rec.Header(), rec.Body.String())
	}
	if rec := get(t, h, http.MethodGet, "/assets/graphiql/graphiql.min.css"); !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: Content-Type %q", rec.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/assets/", "/assets/graphiql", "/assets/graphiql/", "/assets/missing.js", "/assets/.npmrc",
		"/assets/graphiql/.secret", "/assets/../outside.txt", "/assets/graphiql/../../outside.txt", "/assets/link.txt", "/assets//etc/passwd"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = p // as a client sends it, uncleaned
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusNotFound || !strings.Contains(string(body), `"code":"NOT_FOUND"`) {
			t.Errorf("GET %s: got %d %q; want a JSON 404", p, rec.Code, body)
		}
	}
	// Without AssetsDir nothing is served from disk.
	if rec := get(t, Handler(Options{}), http.MethodGet, "/assets/graphiql/graphiql.min.js"); strings.Contains(rec.Body.String(), "/* graphiql */") {
		t.Error("served a file without AssetsDir")
	}
}
