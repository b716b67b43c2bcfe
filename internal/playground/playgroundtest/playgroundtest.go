// Package playgroundtest drives the GraphiQL playground in a real browser,
// for end-to-end tests here and in the service's package: it installs the
// pinned npm assets the page loads (the tests reach no CDN) and runs the
// page's default query in headless Chromium, as a person would.
package playgroundtest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// installScript is install-assets.sh, carried in the test binary so that a
// test finds it whatever its working directory.
//
//go:embed install-assets.sh
var installScript string

// Assets returns a directory holding the playground's npm assets (see
// playground.Options.AssetsDir), installing them with install-assets.sh
// when they are missing: once per machine, from the npm registry, into
// $GQLCACHE_PLAYGROUND_ASSETS or the user's cache directory. Without npm
// and without the files, the test fails saying what to install.
func Assets(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "bash", "-c", installScript, "install-assets.sh")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("installing the playground's npm assets (internal/playground/playgroundtest/install-assets.sh) failed: %v\n%s"+
			"The browser tests fetch them from npm's registry once per machine, or find them already in $GQLCACHE_PLAYGROUND_ASSETS.",
			err, stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Log(strings.TrimSpace(s))
	}
	return strings.TrimSpace(string(out))
}

// Browser starts a headless Chromium with a fresh profile and returns the
// context of one tab. The browser ends with the test. Without Chromium the
// test fails saying what to install.
func Browser(t testing.TB) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser tests need Chromium: install Debian's chromium package (apt-get install -y chromium)")
	}
	// A fresh profile: no stored query or tab from an earlier run, so the
	// editor opens on the default query. TempDir comes first so that its
	// removal runs after the browser has exited.
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI, and containers lack the sandbox's namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing but the page's own requests: the machine reaches no
		// Google service, and a stray connection attempt only slows it.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	return ctx
}

// Session is what RunDefaultQuery saw.
type Session struct {
	// Results is the result panel's text after each run.
	Results []string
	// Query is the editor's text when the page opened.
	Query string
	// Docs is the docs explorer's text: the schema's root types.
	Docs string
	// Problems are the errors and warnings the page logged: exceptions,
	// console errors, failed loads, Content-Security-Policy refusals.
	Problems []string
	// Screenshot is the path of a PNG of the whole page after the last run.
	Screenshot string
}

// Selectors of GraphiQL 4's markup.
const (
	queryEditor = ".graphiql-query-editor"
	runButton   = ".graphiql-execute-button"
	resultPanel = ".result-window"
	docsPanel   = ".graphiql-doc-explorer"
	showDocs    = `button[aria-label="Show Documentation Explorer"]`
	hideDocs    = `button[aria-label="Hide Documentation Explorer"]`
)

// RunDefaultQuery opens pageURL in the browser of ctx (from Browser), waits
// for GraphiQL to show its default query and the schema, then runs the
// query times times with the run button, reading the result panel after
// each run, and finally saves a screenshot of the page in the test's temp
// dir. Each step is bounded; a step that does not happen fails the test
// with what the page logged.
func RunDefaultQuery(ctx context.Context, t testing.TB, pageURL string, times int) Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		problems []string
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, s)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			note("exception: " + msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					if a.Description != "" {
						parts = append(parts, a.Description)
					} else {
						parts = append(parts, strings.Trim(string(a.Value), `"`))
					}
				}
				note("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
				note(fmt.Sprintf("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\npage problems: %q", append(args, snapshot())...)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		fail("opening %s: %v", pageURL, err)
	}
	var s Session
	// The boot script replaces "Loading…" with its failure when the
	// bundles did not load: no point waiting for the editor then.
	query, err := poll(ctx, `(() => {
		const failed = document.querySelector('.loading.failed');
		if (failed) return '!' + failed.innerText;
		const e = document.querySelector(`+jsString(queryEditor)+`);
		return e && e.innerText.includes('weather:paris') ? e.innerText : '';
	})()`)
	if err != nil || strings.HasPrefix(query, "!") {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		fail("GraphiQL did not show the default query (%v); the page reads %q", err, body)
	}
	s.Query = query

	// The schema reached the page (GraphiQL's introspection query passed
	// the endpoint's limits) when the docs explorer lists the root types.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(showDocs))); err != nil {
		fail("opening the docs explorer: %v", err)
	}
	docs, err := poll(ctx, `(() => {
		const e = document.querySelector(`+jsString(docsPanel)+`);
		return e && e.innerText.includes('Root Types') ? e.innerText : '';
	})()`)
	if err != nil {
		fail("the docs explorer shows no schema: %v", err)
	}
	s.Docs = docs
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(hideDocs))); err != nil {
		fail("closing the docs explorer: %v", err)
	}

	prev := ""
	for i := range times {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(runButton))); err != nil {
			fail("clicking the run button (run %d): %v", i+1, err)
		}
		// A run replaces the panel's text; identical answers cannot
		// happen here, since each run's expiresInSeconds or source moves.
		res, err := poll(ctx, `(() => {
			const e = document.querySelector(`+jsString(resultPanel)+`);
			const t = e ? e.innerText : '';
			return t.includes('"source"') && t !== `+jsString(prev)+` ? t : '';
		})()`)
		if err != nil {
			fail("no result after run %d: %v", i+1, err)
		}
		s.Results = append(s.Results, res)
		prev = res
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		fail("screenshot: %v", err)
	}
	s.Screenshot = filepath.Join(t.TempDir(), "playground.png")
	if err := os.WriteFile(s.Screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Problems = snapshot()
	return s
}

// KeepScreenshot copies a screenshot out of the test's temp dir, which the
// test removes, to $GQLCACHE_PLAYGROUND_SCREENSHOT, else
// playground-screenshot.png in the system's temp dir, for a person to look
// at after the run.
func KeepScreenshot(t testing.TB, path string) string {
	t.Helper()
	dst := os.Getenv("GQLCACHE_PLAYGROUND_SCREENSHOT")
	if dst == "" {
		dst = filepath.Join(os.TempDir(), "playground-screenshot.png")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(dst, b, 0o644)
	}
	if err != nil {
		t.Errorf("keeping the screenshot: %v", err)
	}
	return dst
}

// poll waits for expr to yield a non-empty string in the page.
func poll(ctx context.Context, expr string) (string, error) {
	return chromedp.Run(ctx, chromedp.Poll[string](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
