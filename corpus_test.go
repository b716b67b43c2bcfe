package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

// badCase is one hostile or malformed request from testdata/bad-input.json
// with the answer it must get.
type badCase struct {
	Name     string            `json:"name"`
	Method   string            `json:"method"`
	Target   string            `json:"target"`
	Headers  map[string]string `json:"headers"`
	Body     *string           `json:"body"`
	BodyJSON any               `json:"body_json"`
	// Expand fills {{NAME}} placeholders in the target, headers and body
	// with a text repeated (its {{i}} numbered) or raw bytes given in hex,
	// so that floods and invalid bytes need not be written out.
	Expand map[string]struct {
		Text  string `json:"text"`
		Hex   string `json:"hex"`
		Times int    `json:"times"`
	} `json:"expand"`
	Mode   string            `json:"mode"`
	Env    map[string]string `json:"env"`
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Stores bool              `json:"stores"`
	// Executes marks a GraphQL refusal made while the operation ran: only
	// such an answer has a data entry.
	Executes       bool   `json:"executes"`
	MustNotContain string `json:"must_not_contain"`
}

func (c badCase) expansion(name string, jsonString bool) string {
	e := c.Expand[name]
	var b strings.Builder
	for i := range e.Times {
		if e.Hex != "" {
			raw, _ := hex.DecodeString(e.Hex)
			b.Write(raw)
			continue
		}
		b.WriteString(strings.ReplaceAll(e.Text, "{{i}}", strconv.Itoa(i)))
	}
	if !jsonString {
		return b.String()
	}
	quoted, _ := json.Marshal(b.String())
	return string(quoted[1 : len(quoted)-1])
}

func (c badCase) fill(s string, jsonString bool) string {
	for name := range c.Expand {
		s = strings.ReplaceAll(s, "{{"+name+"}}", c.expansion(name, jsonString))
	}
	return s
}

func (c badCase) request(base string) (*http.Request, []byte, error) {
	var body []byte
	switch {
	case c.BodyJSON != nil:
		b, err := json.Marshal(c.BodyJSON)
		if err != nil {
			return nil, nil, err
		}
		body = []byte(c.fill(string(b), true))
	case c.Body != nil:
		body = []byte(c.fill(*c.Body, false))
	}
	req, err := http.NewRequest(c.Method, base+c.fill(c.Target, false), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != nil && c.Method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.Headers {
		req.Header.Set(k, c.fill(v, false))
	}
	return req, body, nil
}

// errorCode reads extensions.code of a GraphQL error response or code of a
// REST one.
func errorCode(body []byte) string {
	var r struct {
		Code   string `json:"code"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	if len(r.Errors) > 0 {
		return r.Errors[0].Extensions.Code
	}
	return r.Code
}

// countingOrigin is the built-in origin, counted: scraping /metrics for the
// count after every case would cost more than the whole corpus.
type countingOrigin struct {
	origin.Generator
	n atomic.Int64
}

func (o *countingOrigin) Fetch(ctx context.Context, req origin.Request) (cache.Fetched, error) {
	o.n.Add(1)
	return o.Generator.Fetch(ctx, req)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBadInputCorpus sends every case of testdata/bad-input.json to a real
// service (in production mode unless the case says otherwise) and checks
// its status and error code, that nothing answers 500 or repeats the
// request body, that the service stays healthy, and that refused requests
// neither reach the origin nor write a cache entry.
func TestBadInputCorpus(t *testing.T) {
	raw, err := os.ReadFile("testdata/bad-input.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct{ Cases []badCase }
	if err := json.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus.Cases) < 40 {
		t.Fatalf("the corpus has %d cases; want at least 40", len(corpus.Cases))
	}
	url, _ := redistest.Shared(t)
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	type svc struct {
		*service
		prefix  string
		fetches *countingOrigin
	}
	services := map[string]svc{}
	serviceFor := func(c badCase) svc {
		mode := c.Mode
		if mode == "" {
			mode = "production"
		}
		env := map[string]string{"MODE": mode, "ADMIN_TOKEN": "corpus-admin", "REDIS_URL": url}
		for k, v := range c.Env {
			env[k] = v
		}
		id, _ := json.Marshal(env)
		if s, ok := services[string(id)]; ok {
			return s
		}
		env["CACHE_KEY_PREFIX"] = redistest.Prefix(t)
		org := &countingOrigin{}
		s := svc{startWithOrigin(t, env, org), env["CACHE_KEY_PREFIX"], org}
		services[string(id)] = s
		return s
	}

	type cost struct {
		name string
		cpu  time.Duration
	}
	var costs []cost
	for _, c := range corpus.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s := serviceFor(c)
			keysBefore := len(rdb.Keys(context.Background(), s.prefix+":*").Val()) // the test's own prefix
			fetchesBefore := s.fetches.n.Load()

			req, body, err := c.request(s.url)
			if err != nil {
				t.Fatal(err)
			}
			cpu := cpuTime()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request failed: %v", err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			costs = append(costs, cost{c.Name, cpuTime() - cpu})

			if resp.StatusCode != c.Status {
				t.Errorf("status %d; want %d (body %.300s)", resp.StatusCode, c.Status, got)
			}
			if code := errorCode(got); code != c.Code {
				t.Errorf("code %q; want %q (body %.300s)", code, c.Code, got)
			}
			if strings.HasPrefix(c.Target, "/graphql") && c.Code != "" {
				var fields map[string]json.RawMessage
				_ = json.Unmarshal(got, &fields)
				if _, has := fields["data"]; has != c.Executes {
					t.Errorf("data entry present: %t; want %t (body %.300s)", has, c.Executes, got)
				}
			}
			if len(body) >= 16 && bytes.Contains(got, body) {
				t.Errorf("the response repeats the request body: %.300s", got)
			}
			if c.MustNotContain != "" && bytes.Contains(got, []byte(c.MustNotContain)) {
				t.Errorf("the response contains %q: %.300s", c.MustNotContain, got)
			}
			if code, _ := s.get("/healthz"); code != http.StatusOK {
				t.Errorf("/healthz = %d after the case; want 200", code)
			}
			if c.Stores {
				return
			}
			if n := len(rdb.Keys(context.Background(), s.prefix+":*").Val()); n != keysBefore {
				t.Errorf("cache keys went from %d to %d; want no entry written", keysBefore, n)
			}
			if n := s.fetches.n.Load(); n != fetchesBefore {
				t.Errorf("origin fetches went from %v to %v; want none", fetchesBefore, n)
			}
		})
	}
	slices.SortFunc(costs, func(a, b cost) int { return int(b.cpu - a.cpu) })
	for _, c := range costs[:3] {
		t.Logf("CPU cost %v: %s", c.cpu, c.name)
	}
}
