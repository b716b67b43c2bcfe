package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gqlcache/gqlcache/internal/playground/playgroundtest"
)

// TestBrowserPlayground runs GraphiQL's default query twice in headless
// Chromium against the whole service, which serves the page and a local
// copy of its npm assets (PLAYGROUND_ASSETS_DIR: the test reaches no CDN):
// DATABASE, then CACHE with the same cachedAt.
func TestBrowserPlayground(t *testing.T) {
	// A TTL far above the test's length: the second run must find the entry
	// fresh however slow the browser is.
	svc := startService(t, map[string]string{
		"PLAYGROUND_ASSETS_DIR": playgroundtest.Assets(t),
		"CACHE_TTL":             "10m",
	})
	s := playgroundtest.RunDefaultQuery(playgroundtest.Browser(t), t, svc.url+"/", 2)
	t.Logf("screenshot: %s", s.Screenshot)

	source := regexp.MustCompile(`"source":\s*"([A-Z]+)"`)
	cachedAt := regexp.MustCompile(`"cachedAt":\s*"([^"]+)"`)
	var got, at []string
	for i, r := range s.Results {
		m, c := source.FindStringSubmatch(r), cachedAt.FindStringSubmatch(r)
		if m == nil || c == nil {
			t.Fatalf("run %d: the result panel has no source or cachedAt:\n%s", i+1, r)
		}
		got, at = append(got, m[1]), append(at, c[1])
	}
	if got[0] != "DATABASE" || got[1] != "CACHE" || at[0] != at[1] {
		t.Errorf("source %q, cachedAt %q; want DATABASE then CACHE, with one cachedAt\n%s", got, at, strings.Join(s.Results, "\n"))
	}
	if len(s.Problems) > 0 {
		t.Errorf("the page logged problems:\n%s", strings.Join(s.Problems, "\n"))
	}
}

func TestBrowserPlaygroundAssetsConfig(t *testing.T) {
	for _, env := range []map[string]string{
		{"PLAYGROUND_ASSETS_DIR": t.TempDir()},
		{"PLAYGROUND_ASSETS_URL": "javascript:alert(1)"},
	} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v: loadConfig accepted it", env)
		} else {
			t.Log(err)
		}
	}
}
