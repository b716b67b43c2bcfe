package fieldcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/examples/catalog/graph"
	"github.com/gqlcache/gqlcache/examples/catalog/graph/model"
	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/examples/catalog/resolvers"
	"github.com/gqlcache/gqlcache/fieldcache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

const adminToken = "admin-secret"

// tagged is what the counting wrappers sit on: a store with its tag index,
// so that purges by tag still reach it.
type tagged interface {
	cache.Store
	cache.TagIndex
}

// counting counts the calls the cache makes on the store beneath it, by
// method: what a user pays in round trips, not only what was answered.
type counting struct {
	tagged
	gets, getManys, claims, fills, releases, replaces, tags atomic.Int64
}

func (s *counting) Tag(ctx context.Context, key string, tagKeys []string, until, now time.Time) (time.Time, error) {
	s.tags.Add(1)
	return s.tagged.Tag(ctx, key, tagKeys, until, now)
}

func (s *counting) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.tagged.Get(ctx, key)
}

func (s *counting) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	s.getManys.Add(1)
	return s.tagged.GetMany(ctx, keys)
}

func (s *counting) Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (cache.Claim, error) {
	s.claims.Add(1)
	return s.tagged.Claim(ctx, key, token, leaseTTL)
}

func (s *counting) Fill(ctx context.Context, key string, stamp, value []byte, ttl time.Duration, token string) (bool, error) {
	s.fills.Add(1)
	return s.tagged.Fill(ctx, key, stamp, value, ttl, token)
}

func (s *counting) Release(ctx context.Context, key, token string) error {
	s.releases.Add(1)
	return s.tagged.Release(ctx, key, token)
}

func (s *counting) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.replaces.Add(1)
	return s.tagged.Replace(ctx, key, value, ttl)
}

// storeCalls is a snapshot of the counts, to subtract one from another.
type storeCalls struct{ Gets, GetManys, Claims, Fills, Releases, Replaces, Tags int64 }

func (s *counting) snapshot() storeCalls {
	return storeCalls{s.gets.Load(), s.getManys.Load(), s.claims.Load(), s.fills.Load(), s.releases.Load(), s.replaces.Load(), s.tags.Load()}
}

func (a storeCalls) minus(b storeCalls) storeCalls {
	return storeCalls{a.Gets - b.Gets, a.GetManys - b.GetManys, a.Claims - b.Claims, a.Fills - b.Fills, a.Releases - b.Releases, a.Replaces - b.Replaces, a.Tags - b.Tags}
}

func (a storeCalls) total() int64 {
	return a.Gets + a.GetManys + a.Claims + a.Fills + a.Releases + a.Replaces + a.Tags
}

// broadcasting is a counting Redis store that still announces its writes:
// without Changes forwarded the cache would find no Broadcaster and run
// without its near cache.
type broadcasting struct {
	*counting
	cache.Broadcaster
}

// The stores every behaviour runs against.
const (
	memoryStore  = "memory"
	redisStore   = "redis"
	clusterStore = "cluster"
)

var (
	allStores   = []string{memoryStore, redisStore, clusterStore}
	localStores = []string{memoryStore, redisStore}
)

// openStore returns a counting store of kind and the key prefix the test
// owns on it. A Redis store is shared with other tests, hence the prefix;
// a cluster is the test's own.
func openStore(t *testing.T, kind string) (cache.Store, *counting, string) {
	t.Helper()
	var url, prefix string
	switch kind {
	case memoryStore:
		ms, err := cache.NewMemoryStore(64 << 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ms.Close() })
		c := &counting{tagged: ms}
		return c, c, redistest.Prefix(t)
	case redisStore:
		url, prefix = redistest.Shared(t)
	case clusterStore:
		url, prefix = redistest.StartCluster(t).URL(), redistest.Prefix(t)
	default:
		t.Fatalf("unknown store %q", kind)
	}
	// A generous timeout: on a busy machine under -race a slow reply must
	// not turn into a miss and an extra origin call the test would count.
	rs, err := cache.OpenRedis(url, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	c := &counting{tagged: rs}
	return &broadcasting{counting: c, Broadcaster: rs}, c, prefix
}

// clock is a test clock: freshness moves only when a test says so.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) advance(d time.Duration) { c.now.Add(int64(d)) }

// faults wraps the catalog's resolvers so that a test can make one field
// fail, as an origin outage would, without touching the example.
type faults struct {
	*resolvers.Resolver
	mu    sync.Mutex
	fail  map[string]error
	tried map[string]int
}

func (f *faults) set(field string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, field)
		return
	}
	f.fail[field] = err
}

// failed counts the calls a fault answered, which never reach the origin.
func (f *faults) failed(field string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tried[field]
}

func (f *faults) check(field string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.fail[field]
	if err != nil {
		f.tried[field]++
	}
	return err
}

func (f *faults) Product() graph.ProductResolver {
	return faultyProduct{ProductResolver: f.Resolver.Product(), f: f}
}

func (f *faults) Query() graph.QueryResolver {
	return faultyQuery{QueryResolver: f.Resolver.Query(), f: f}
}

type faultyProduct struct {
	graph.ProductResolver
	f *faults
}

func (r faultyProduct) Reviews(ctx context.Context, obj *model.Product) ([]*model.Review, error) {
	if err := r.f.check(origin.FieldReviews); err != nil {
		return nil, err
	}
	return r.ProductResolver.Reviews(ctx, obj)
}

type faultyQuery struct {
	graph.QueryResolver
	f *faults
}

func (r faultyQuery) Product(ctx context.Context, id string) (*model.Product, error) {
	if err := r.f.check(origin.FieldProduct); err != nil {
		return nil, err
	}
	return r.QueryResolver.Product(ctx, id)
}

// setup is what a test changes of the catalog it runs.
type setup struct {
	store   string
	latency time.Duration
	cache   cache.Options // Prefix is set by env
	fc      fieldcache.Options
}

// env is the catalog in process, behind the extension, on one store.
type env struct {
	t      *testing.T
	o      *origin.Origin
	c      *cache.Cache
	ext    *fieldcache.Extension
	store  *counting
	faults *faults
	reg    *prometheus.Registry
	url    string
}

func newEnv(t *testing.T, s setup) *env {
	t.Helper()
	store, counts, prefix := openStore(t, s.store)
	o, err := origin.New(s.latency, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := s.cache
	opts.Prefix = prefix
	// Generous budgets: these tests count origin and store calls, which a
	// budget spent by a busy machine, or a fill refused a slot while the
	// hundred reviews of a cold list all miss at once, would change.
	if opts.StoreBudget == 0 {
		opts.StoreBudget = 10 * time.Second
	}
	if opts.OriginMaxInflight == 0 {
		opts.OriginMaxInflight = 1000
	}
	if opts.OriginQueueWait == 0 {
		opts.OriginQueueWait = 10 * time.Second
	}
	c, err := cache.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	f := &faults{Resolver: &resolvers.Resolver{Origin: o}, fail: map[string]error{}, tried: map[string]int{}}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: f})
	reg := prometheus.NewRegistry()
	fo := s.fc
	if fo.AdminToken == "" {
		fo.AdminToken = adminToken
	}
	fo.Registerer = reg
	ext, err := fieldcache.New(es, graph.CacheFields(), c, fo)
	if err != nil {
		t.Fatal(err)
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.Use(ext)
	hs := httptest.NewServer(ext.Handler(withCustomer(srv)))
	// Registered after c.Close, so it runs first: no request is in flight
	// when the cache waits for its fills.
	t.Cleanup(hs.Close)
	return &env{t: t, o: o, c: c, ext: ext, store: counts, faults: f, reg: reg, url: hs.URL}
}

// withCustomer names the cart's customer from the bearer token, as the
// catalog's server does.
func withCustomer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token != "" {
			r = r.WithContext(resolvers.WithCustomer(r.Context(), token))
		}
		next.ServeHTTP(w, r)
	})
}

// report is one entry of extensions.cache.
type report struct {
	Path          []any    `json:"path"`
	Coordinate    string   `json:"coordinate"`
	Status        string   `json:"status"`
	AgeSeconds    int      `json:"ageSeconds"`
	MaxAgeSeconds int      `json:"maxAgeSeconds"`
	Tags          []string `json:"tags"`
}

// response is one GraphQL response as a client reads it.
type response struct {
	status int
	header http.Header
	body   []byte
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
		Path    []any  `json:"path"`
	} `json:"errors"`
	Extensions map[string]json.RawMessage `json:"extensions"`
}

// debugReport returns extensions.cache, and whether the response has it.
func (r *response) debugReport(t *testing.T) ([]report, bool) {
	t.Helper()
	raw, ok := r.Extensions["cache"]
	if !ok {
		return nil, false
	}
	var out []report
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("extensions.cache: %v in %s", err, raw)
	}
	return out, true
}

// A header is one request header, written as "Name: value".
type header = string

// post sends query with variables, failing the test on anything but an
// HTTP answer.
func (e *env) post(query string, vars map[string]any, headers ...header) *response {
	e.t.Helper()
	return e.postCtx(context.Background(), query, vars, headers...)
}

func (e *env) postCtx(ctx context.Context, query string, vars map[string]any, headers ...header) *response {
	e.t.Helper()
	r, err := e.do(ctx, query, vars, headers...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// do is post for any goroutine: it returns errors instead of failing.
func (e *env) do(ctx context.Context, query string, vars map[string]any, headers ...header) (*response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &response{status: resp.StatusCode, header: resp.Header}
	if out.body, err = io.ReadAll(resp.Body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out.body, out); err != nil {
		return nil, errors.Join(err, errors.New(string(out.body)))
	}
	return out, nil
}

// mustOK fails the test when the response carries errors.
func mustOK(t *testing.T, r *response) *response {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %s", r.body)
	}
	return r
}

// The debug headers of an admin.
var debug = []header{"Authorization: Bearer " + adminToken, "Cache-Debug: true"}

// calls reads the origin's calls for each of fields.
func (e *env) calls(fields ...string) map[string]int64 {
	out := make(map[string]int64, len(fields))
	for _, f := range fields {
		out[f] = e.o.Calls(f)
	}
	return out
}

var allFields = []string{origin.FieldProduct, origin.FieldProducts, origin.FieldNode, origin.FieldSearch, origin.FieldCart, origin.FieldReviews, origin.FieldPrice}

// results reads gqlcache_fieldcache_results_total{field,status}.
func (e *env) results(field, status string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gqlcache_fieldcache_results_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["field"] == field && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

var priceRE = regexp.MustCompile(`"price":[-0-9.eE+]+`)

// withoutPrices blanks the live prices, which differ on every request.
func withoutPrices(b []byte) []byte { return priceRE.ReplaceAll(b, []byte(`"price":0`)) }

// waitUntil polls cond until it holds; it fails the test after 20s, long
// enough for a busy machine, and costs nothing when cond holds at once.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
	}
}

// eachStore runs test against each store kind as a subtest.
func eachStore(t *testing.T, kinds []string, test func(t *testing.T, kind string)) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}
