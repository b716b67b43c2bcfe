package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/examples/catalog/server"
)

// start runs the catalog in process, as main does.
func start(t *testing.T, o server.ServerOptions) *httptest.Server {
	t.Helper()
	h, cleanup, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		cleanup()
	})
	return ts
}

type response struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
	header http.Header
}

// query POSTs a GraphQL query, with a bearer token unless it is empty.
func query(t *testing.T, ts *httptest.Server, token, q string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": q})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	r.header = res.Header
	return r
}

// originCalls reads catalog_origin_calls_total by field from /metrics, as an
// outside tester would.
func originCalls(t *testing.T, ts *httptest.Server) map[string]int {
	t.Helper()
	res, err := ts.Client().Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), `catalog_origin_calls_total{field="`)
		if !ok {
			continue
		}
		field, value, _ := strings.Cut(line, `"} `)
		n, err := strconv.Atoi(value)
		if err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out[field] = n
	}
	return out
}

func TestCatalogAnswersFromTheOrigin(t *testing.T) {
	ts := start(t, server.ServerOptions{})
	r := query(t, ts, "", `{ product(id: "17") { id name category price reviews { id stars } } }`)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	p := r.Data["product"].(map[string]any)
	if p["id"] != "17" || !strings.HasSuffix(p["name"].(string), " 17") || len(p["reviews"].([]any)) != 3 {
		t.Errorf("product 17 = %v", p)
	}
	r = query(t, ts, "", `{ node(id: "review-17-2") { id ... on Review { stars } } search(text: "hammer") { __typename } }`)
	if len(r.Errors) > 0 || r.Data["node"].(map[string]any)["id"] != "review-17-2" || len(r.Data["search"].([]any)) == 0 {
		t.Errorf("node and search = %v, %v", r.Data, r.Errors)
	}
	r = query(t, ts, "", `{ __schema { queryType { name } } }`)
	if len(r.Errors) > 0 {
		t.Errorf("introspection refused: %v", r.Errors)
	}
}

func TestCartNeedsABearerAndIsPerCustomer(t *testing.T) {
	ts := start(t, server.ServerOptions{})
	r := query(t, ts, "", `{ cart { total } }`)
	if len(r.Errors) != 1 || r.Errors[0].Message != "sign in to see your cart" {
		t.Errorf("cart without a token: errors %v", r.Errors)
	}
	const q = `{ cart { items { id } total } }`
	alice, bob := query(t, ts, "alice", q), query(t, ts, "bob", q)
	alice2 := query(t, ts, "alice", q)
	a, b, a2 := fmt.Sprint(alice.Data), fmt.Sprint(bob.Data), fmt.Sprint(alice2.Data)
	if a != a2 || a == b {
		t.Errorf("carts: alice %s, bob %s, alice again %s", a, b, a2)
	}
}

// What the example is for: a repeated query is answered without the
// origin, except for the live price; reviews are cached per product id,
// however the product was reached.
func TestCachedFieldsSpareTheOrigin(t *testing.T) {
	testCaching(t, server.ServerOptions{})
}

func TestCachedFieldsSpareTheOriginInRedis(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		t.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	conn.Close()
	// A prefix of its own: entries of earlier runs, still fresh, would
	// answer this one's first query.
	testCaching(t, server.ServerOptions{
		RedisURL:    "redis://127.0.0.1:6379/0",
		CachePrefix: "catalog-test-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	})
}

func testCaching(t *testing.T, o server.ServerOptions) {
	ts := start(t, o)
	const q = `{ product(id: "5") { id name price reviews { id } } }`
	first := query(t, ts, "", q)
	if len(first.Errors) > 0 {
		t.Fatalf("errors: %v", first.Errors)
	}
	before := originCalls(t, ts)
	second := query(t, ts, "", q)
	after := originCalls(t, ts)
	if d := after["Query.product"] - before["Query.product"]; d != 0 {
		t.Errorf("repeated product(id: 5) called the origin %d times", d)
	}
	if d := after["Product.reviews"] - before["Product.reviews"]; d != 0 {
		t.Errorf("repeated reviews of product 5 called the origin %d times", d)
	}
	if d := after["Product.price"] - before["Product.price"]; d != 1 {
		t.Errorf("price called the origin %d times, want 1: it is live", d)
	}
	p1, p2 := first.Data["product"].(map[string]any), second.Data["product"].(map[string]any)
	if p1["price"] == p2["price"] {
		t.Errorf("price %v both times: served from a cache", p1["price"])
	}
	if fmt.Sprint(p1["reviews"]) != fmt.Sprint(p2["reviews"]) || p1["name"] != p2["name"] {
		t.Errorf("cached product differs: %v then %v", p1, p2)
	}

	// Product 5's reviews, reached through products, are the entry above.
	before = originCalls(t, ts)
	query(t, ts, "", `{ products(first: 5) { id reviews { id } } }`)
	after = originCalls(t, ts)
	if d := after["Product.reviews"] - before["Product.reviews"]; d != 4 {
		t.Errorf("reviews of products 1 to 5 called the origin %d times, want 4 (5's are cached)", d)
	}
}

func TestPlaygroundAndMetricsAreServed(t *testing.T) {
	ts := start(t, server.ServerOptions{})
	res, err := ts.Client().Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	calls := originCalls(t, ts)
	if _, ok := calls["Query.product"]; !ok {
		t.Errorf("/metrics has no catalog_origin_calls_total{field=\"Query.product\"}: %v", calls)
	}
}

// TestColdPageIsAnsweredWhole: a cold products(first: 100) runs a hundred
// reviews resolvers at once, which the catalog's origin slots must take
// within their queue: with the core's defaults (16 slots, 100ms) and a
// 50ms origin, 52 of them were refused as busy and the page failed.
func TestColdPageIsAnsweredWhole(t *testing.T) {
	ts := start(t, server.ServerOptions{OriginLatency: 50 * time.Millisecond})
	r := query(t, ts, "", `{ products(first: 100) { id reviews { stars } } }`)
	if len(r.Errors) > 0 {
		t.Fatalf("cold page: %d errors, the first %q", len(r.Errors), r.Errors[0].Message)
	}
	if got := originCalls(t, ts)["Product.reviews"]; got != 100 {
		t.Errorf("Product.reviews origin calls: %d; want 100", got)
	}
}
