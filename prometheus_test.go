package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/internal/redistest"
)

const (
	rulesFile     = "deploy/prometheus/gqlcache.rules.yml"
	dashboardFile = "deploy/grafana/gqlcache.json"
	promJob       = "gqlcache"
)

// The alert rules and the dashboard, tried on a real Prometheus scraping a
// real service: the origin-breaker alert goes pending when the origin
// stops and resolves when it is back, the store alert likewise for Redis,
// every recording rule yields data, and every dashboard query runs and
// shows data, so none names a metric the service does not have.
func TestAlertsAndDashboardOnARealPrometheus(t *testing.T) {
	var originDown atomic.Bool
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if originDown.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Tag", "city")
		fmt.Fprintf(w, `{"q":%q}`, r.URL.Query().Get("query"))
	}))
	defer org.Close()
	rdb := redistest.Start(t)

	s := startProcess(t, map[string]string{
		"ORIGIN_URL":              org.URL,
		"REDIS_URL":               rdb.URL(),
		"CACHE_KEY_PREFIX":        redistest.Prefix(t),
		"CACHE_TTL":               "2s",
		"ORIGIN_TIMEOUT":          "1s",
		"ORIGIN_BREAKER_COOLDOWN": "1s",
		"ADMIN_TOKEN":             "secret",
		// A real soft limit, so the memory panel shows one.
		"GOMEMLIMIT": "1GiB",
	})
	prom := startPrometheus(t, strings.TrimPrefix(s.url, "http://"))
	began := time.Now()

	stop := sendTraffic(t, s.url)
	defer stop()
	prom.waitFor(t, 30*time.Second, "the service scraped with traffic counted",
		func() (bool, string) {
			n := prom.query(t, `sum(gqlcache_field_results_total{job="gqlcache"})`)
			return len(n) > 0 && n[0] > 0, fmt.Sprint(n)
		})

	for _, a := range []string{"GqlcacheOriginBreakerOpen", "GqlcacheStoreUnavailable"} {
		if state := prom.alertState(t, a); state != "" {
			t.Fatalf("%s is %s while the origin and Redis are up; want inactive", a, state)
		}
	}

	originDown.Store(true)
	stopped := time.Now()
	prom.waitFor(t, 30*time.Second, "GqlcacheOriginBreakerOpen pending or firing", func() (bool, string) {
		state := prom.alertState(t, "GqlcacheOriginBreakerOpen")
		return state == "pending" || state == "firing", state
	})
	toPending := time.Since(stopped)
	originDown.Store(false)
	back := time.Now()
	prom.waitFor(t, 30*time.Second, "GqlcacheOriginBreakerOpen resolved", func() (bool, string) {
		state := prom.alertState(t, "GqlcacheOriginBreakerOpen")
		return state == "", state
	})
	toResolved := time.Since(back)
	t.Logf("origin stopped: GqlcacheOriginBreakerOpen pending after %v; origin back: resolved after %v", toPending.Round(100*time.Millisecond), toResolved.Round(100*time.Millisecond))

	rdb.Kill()
	killed := time.Now()
	prom.waitFor(t, 30*time.Second, "GqlcacheStoreUnavailable pending or firing", func() (bool, string) {
		state := prom.alertState(t, "GqlcacheStoreUnavailable")
		return state == "pending" || state == "firing", state
	})
	storePending := time.Since(killed)
	if err := rdb.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	prom.waitFor(t, 30*time.Second, "GqlcacheStoreUnavailable resolved", func() (bool, string) {
		state := prom.alertState(t, "GqlcacheStoreUnavailable")
		return state == "", state
	})
	t.Logf("Redis killed: GqlcacheStoreUnavailable pending after %v; Redis back: resolved after %v", storePending.Round(100*time.Millisecond), time.Since(restarted).Round(100*time.Millisecond))
	stop()

	// Every metric a rule or a panel names is one Prometheus scraped from
	// the service (the build's once the service exposes it).
	var scraped []string
	prom.api(t, "/api/v1/label/__name__/values", nil, &scraped)
	known := map[string]bool{}
	for _, n := range scraped {
		known[n] = true
	}
	_, metrics := s.get("/metrics")
	hasBuildInfo := strings.Contains(metrics, "\ngqlcache_build_info{")
	checkNames := func(where, expr string) {
		for _, n := range promqlMetric.FindAllString(expr, -1) {
			if !known[n] && (n != "gqlcache_build_info" || hasBuildInfo) {
				t.Errorf("%s names %s, which Prometheus never scraped from the service", where, n)
			}
		}
	}

	// Every rule evaluates cleanly, and every recording rule has data.
	var rules struct {
		Groups []struct {
			Rules []struct{ Name, Query, Type, Health, LastError string }
		}
	}
	prom.api(t, "/api/v1/rules", nil, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			checkNames("rule "+r.Name, r.Query)
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q (%s); want ok", r.Name, r.Health, r.LastError)
			}
			if r.Type == "recording" && len(prom.query(t, r.Name)) == 0 {
				t.Errorf("recording rule %s has no data", r.Name)
			}
		}
	}

	// Every panel's every query runs; every panel shows data over the
	// test's span, but the build's until the service exposes its metric.
	var dash struct {
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$job", promJob, "$instance", ".*", "$__rate_interval", "10s")
	panels := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		series := 0
		for _, tg := range p.Targets {
			checkNames(fmt.Sprintf("panel %q", p.Title), tg.Expr)
			n, err := prom.queryRange(vars.Replace(tg.Expr), began, time.Now())
			if err != nil {
				t.Errorf("panel %q: query %s: %v", p.Title, tg.Expr, err)
			}
			series += n
		}
		if series == 0 && (p.Title != "Build" || hasBuildInfo) {
			t.Errorf("panel %q returned no data over the test; queries: %v", p.Title, p.Targets)
		}
	}
	t.Logf("%d panels evaluated on Prometheus (gqlcache_build_info exposed: %t)", panels, hasBuildInfo)
}

// promqlMetric finds the service's metric names in PromQL: its own, the Go
// runtime's and the process's (label names and functions never start so).
var promqlMetric = regexp.MustCompile(`\b(gqlcache|go|process)_[a-z0-9_]+\b`)

// sendTraffic sends what a user would, until stop: repeated REST and
// GraphQL reads (hits), a new query now and then (misses, so the origin is
// called), and a purge.
func sendTraffic(t *testing.T, base string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			var req *http.Request
			switch {
			case i%50 == 49:
				req, _ = http.NewRequestWithContext(ctx, http.MethodDelete, base+"/data?tag=city", nil)
				req.Header.Set("Authorization", "Bearer secret")
			case i%5 == 0:
				// A new query each time: a miss that must reach the origin.
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"/data?"+q("new-"+strconv.Itoa(i)), nil)
			case i%2 == 0:
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+"/data?"+q("city-"+strconv.Itoa(i%4)), nil)
			default:
				body := fmt.Sprintf(`{"query":"{ data(query: \"city-%d\") { source stale } }"}`, i%4)
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
			}
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			client.CloseIdleConnections()
		})
	}
}

// promServer is a running Prometheus server under test.
type promServer struct {
	url string
	log *os.File
}

// startPrometheus runs Debian's prometheus, scraping target every second
// and evaluating the service's rules every second, on a free loopback port
// (never the packaged service's 9090), and stops it at the test's end.
func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed: make test installs it (Debian: apt-get install --no-install-recommends prometheus): %v", err)
	}
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%q]
`, rules, promJob, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &promServer{url: "http://" + addr, log: logf}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	p.waitFor(t, 30*time.Second, "prometheus ready", func() (bool, string) {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// waitFor polls cond until it holds, failing the test (with the last state
// cond reported and Prometheus's log) past within. The deadline is
// generous: a busy machine may be slow, never wrong.
func (p *promServer) waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.log.Name())
			t.Fatalf("%s: not within %v (last: %s)\nprometheus log tail:\n%s", what, within, state, tail(string(b), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// get GETs a Prometheus API path and decodes its data into v; a
// non-success answer is returned as an error.
func (p *promServer) get(path string, params url.Values, v any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", resp.Status, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

func (p *promServer) api(t *testing.T, path string, params url.Values, v any) {
	t.Helper()
	if err := p.get(path, params, v); err != nil {
		t.Fatal(err)
	}
}

// query returns the values of an instant query's samples.
func (p *promServer) query(t *testing.T, expr string) []float64 {
	t.Helper()
	var data struct {
		Result []struct{ Value [2]any }
	}
	p.api(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	var out []float64
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		f, _ := strconv.ParseFloat(s, 64)
		out = append(out, f)
	}
	return out
}

// queryRange runs expr as Grafana would over [from, to] and returns how
// many series it gave.
func (p *promServer) queryRange(expr string, from, to time.Time) (int, error) {
	var data struct{ Result []json.RawMessage }
	err := p.get("/api/v1/query_range", url.Values{
		"query": {expr}, "start": {strconv.FormatInt(from.Unix(), 10)},
		"end": {strconv.FormatInt(to.Unix()+1, 10)}, "step": {"1"},
	}, &data)
	return len(data.Result), err
}

// alertState is the alert's state ("pending" or "firing"), "" when it is
// not active.
func (p *promServer) alertState(t *testing.T, name string) string {
	t.Helper()
	var data struct {
		Alerts []struct {
			Labels map[string]string
			State  string
		}
	}
	p.api(t, "/api/v1/alerts", nil, &data)
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == name {
			return a.State
		}
	}
	return ""
}
