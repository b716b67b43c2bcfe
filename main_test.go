package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/internal/origin"
)

// serviceEnv, when set, makes the test binary run the service itself, so
// tests can start real service processes without a separate build.
const serviceEnv = "GQLCACHE_TEST_RUN_SERVICE"

func TestMain(m *testing.M) {
	if os.Getenv(serviceEnv) != "" {
		if err := run(context.Background(), []string{"gqlcache"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	redis.SetLogger(&logging.VoidLogger{})
	goleak.VerifyTestMain(m,
		// The client side of the tests' keep-alive connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// service is one running instance of the service under test.
type service struct {
	url  string
	t    *testing.T
	logs *logWatch
	proc *child // nil when in-process
}

// logWatch collects a service's log lines and reports its listen address.
type logWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
}

func newLogWatch() *logWatch { return &logWatch{addrc: make(chan string, 1)} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for line := range bytes.Lines(p) {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			w.addrc <- rec.Addr
		}
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startService runs the service in-process through run, exactly as main
// does, with env as its whole environment (listening on a free port and
// logging JSON unless env says otherwise). It stops at the test's end and
// the test fails unless run then returns cleanly.
func startService(t *testing.T, env map[string]string) *service {
	t.Helper()
	env = withDefaults(env)
	logs := newLogWatch()
	return startWith(t, logs, func(ctx context.Context) error {
		return run(ctx, []string{"gqlcache"}, func(k string) string { return env[k] }, logs, logs)
	})
}

// startWithOrigin runs the service around a test origin.
func startWithOrigin(t *testing.T, env map[string]string, org origin.Origin) *service {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return withDefaults(env)[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogWatch()
	return startWith(t, logs, func(ctx context.Context) error {
		return serve(ctx, cfg, org, slog.New(slog.NewJSONHandler(logs, nil)))
	})
}

// startOnClock runs the service as startService does, with its cache on
// clk: freshness and an origin's pauses then last until the test moves clk.
func startOnClock(t *testing.T, env map[string]string, clk *clock) *service {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return withDefaults(env)[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.now = clk.Now
	logs := newLogWatch()
	return startWith(t, logs, func(ctx context.Context) error {
		return serve(ctx, cfg, newOrigin(cfg), slog.New(slog.NewJSONHandler(logs, nil)))
	})
}

// clock is a test clock that moves only when told to.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func withDefaults(env map[string]string) map[string]string {
	// GOMEMLIMIT keeps run from setting the soft memory limit of the whole
	// test process (TestServiceFitsItsMemory runs it in its own). No test
	// but the drain's own waits out a drain at its end.
	out := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "GOMEMLIMIT": "off", "SHUTDOWN_DELAY": "0"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func startWith(t *testing.T, logs *logWatch, runIt func(context.Context) error) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runIt(ctx) }()
	select {
	case addr := <-logs.addrc:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run returned %v after shutdown; want nil", err)
			}
			http.DefaultClient.CloseIdleConnections()
		})
		return &service{url: "http://" + addr, t: t, logs: logs}
	case err := <-done:
		cancel()
		t.Fatalf("the service did not start: %v\nlog:\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("the service did not start within 10s; log:\n%s", logs)
	}
	return nil
}

// startProcess runs the service as a separate OS process (this test binary
// in service mode), as an operator would run several replicas. Unless the
// test waits for its end itself (service.exit), it is stopped at the test's
// end and must then exit cleanly.
func startProcess(t *testing.T, env map[string]string) *service {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{serviceEnv + "=1"}
	for k, v := range withDefaults(env) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &child{cmd: cmd, logs: newLogWatch(), exited: make(chan struct{})}
	go func() {
		_, _ = io.Copy(p.logs, bufio.NewReader(out))
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.awaited.Load() {
			return
		}
		_ = cmd.Process.Signal(os.Interrupt)
		<-p.exited
		if p.err != nil {
			t.Errorf("service process exited with %v after SIGINT; want a clean exit\nlog:\n%s", p.err, p.logs)
		}
	})
	select {
	case addr := <-p.logs.addrc:
		return &service{url: "http://" + addr, t: t, logs: p.logs, proc: p}
	case <-time.After(20 * time.Second):
		t.Fatalf("service process did not start; log:\n%s", p.logs)
	}
	return nil
}

// child is a service running as a child process.
type child struct {
	cmd     *exec.Cmd
	logs    *logWatch
	exited  chan struct{}
	err     error // cmd.Wait's, once exited is closed
	awaited atomic.Bool
}

// exit waits up to limit for the service process to end and returns how
// it ended.
func (s *service) exit(limit time.Duration) error {
	s.t.Helper()
	s.proc.awaited.Store(true)
	select {
	case <-s.proc.exited:
		return s.proc.err
	case <-time.After(limit):
		_ = s.proc.cmd.Process.Kill()
		<-s.proc.exited
		s.t.Fatalf("service process still running %v later; log:\n%s", limit, s.proc.logs)
		return nil
	}
}

// payload is the typed answer as a GraphQL client reads it.
type payload struct {
	Source           string          `json:"source"`
	Data             json.RawMessage `json:"data"`
	CachedAt         string          `json:"cachedAt"`
	ExpiresInSeconds *int            `json:"expiresInSeconds"`
	Stale            *bool           `json:"stale"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	status int
	header http.Header
	raw    string
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

// field decodes one field (or alias) of the response's data.
func (r gqlResponse) field(t *testing.T, name string) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(r.Data[name], &p); err != nil || p.Source == "" {
		t.Fatalf("response has no %s payload (%v): %s", name, err, r.raw)
	}
	return p
}

// post sends a GraphQL operation over POST.
func (s *service) post(query string, vars map[string]any, header ...string) gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.doGQL(req)
}

func (s *service) doGQL(req *http.Request) gqlResponse {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := gqlResponse{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if err := json.Unmarshal(b, &r); err != nil {
		s.t.Fatalf("GraphQL response is not JSON (%v): %s", err, b)
	}
	return r
}

// restBody is the original service's JSON shape.
type restBody struct {
	Source           string          `json:"source"`
	Data             json.RawMessage `json:"data"`
	CachedAt         string          `json:"cached_at"`
	ExpiresInSeconds *int            `json:"expires_in_seconds"`
	Error            string          `json:"error"`
	Code             string          `json:"code"`
}

type restResponse struct {
	status int
	header http.Header
	raw    string
	body   restBody
}

// rest sends a request to the REST shim; rawQuery is sent as written.
func (s *service) rest(method, rawQuery string, header ...string) restResponse {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+"/data", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.URL.RawQuery = rawQuery
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := restResponse{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			s.t.Fatalf("REST response is not JSON (%v): %s", err, b)
		}
	}
	return r
}

func (s *service) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one un-labelled sample (or the sum of a labelled family)
// from /metrics, as Prometheus would scrape it.
func (s *service) metric(name string) float64 {
	s.t.Helper()
	_, body := s.get("/metrics")
	var sum float64
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				s.t.Fatalf("metric line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

func q(s string) string { return "query=" + url.QueryEscape(s) }
