package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	h := New(Options{MaxQueryLen: 64})
	query := func(q string) request { return request{Request: origin.Request{Query: q}, hasQuery: true} }
	params := func(q *string, kv ...string) request {
		r := request{Request: origin.Request{Params: url.Values{}}}
		if q != nil {
			r.Query, r.hasQuery = *q, true
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Params[kv[i]] = append(r.Params[kv[i]], kv[i+1])
		}
		return r
	}
	x := "x"
	for _, tc := range []struct {
		name, raw string
		want      request
		err       string // a part of the error; empty: accepted
	}{
		{"nothing: the original's own call", "", request{}, ""},
		{"only an ampersand", "&", request{}, ""},
		{"plain", "query=weather:paris", query("weather:paris"), ""},
		{"escaped", "query=weather%3Aparis", query("weather:paris"), ""},
		{"plus is a space", "query=a+b%20c", query("a b c"), ""},
		{"empty value", "query=", query(""), ""},
		{"no value", "query", query(""), ""},
		{"UTF-8", "query=caf%C3%A9", query("café"), ""},
		{"at the bound", "query=" + strings.Repeat("x", 64), query(strings.Repeat("x", 64)), ""},
		{"at the bound in bytes", "query=" + strings.Repeat("é", 32), query(strings.Repeat("é", 32)), ""},
		{"another parameter", "foo=bar", params(nil, "foo", "bar"), ""},
		{"a cache-buster", "_=1700000000", params(nil, "_", "1700000000"), ""},
		{"query and another", "query=x&foo=bar", params(&x, "foo", "bar"), ""},
		{"another and query", "foo=bar&query=x", params(&x, "foo", "bar"), ""},
		{"repeated values keep their order", "foo=2&foo=1", params(nil, "foo", "2", "foo", "1"), ""},
		{"names are case-sensitive", "Query=a", params(nil, "Query", "a"), ""},
		{"empty name", "=x", params(nil, "", "x"), ""},
		{"others at the bound together", "ab=" + strings.Repeat("x", 31) + "&cd=" + strings.Repeat("y", 29), params(nil, "ab", strings.Repeat("x", 31), "cd", strings.Repeat("y", 29)), ""},
		{"repeated query", "query=a&query=a", request{}, "given once"},
		{"malformed escape", "query=%zz", request{}, "malformed"},
		{"malformed escape elsewhere", "foo=%zz", request{}, "malformed"},
		{"semicolon", "query=a;b", request{}, "malformed"},
		{"invalid UTF-8", "query=%ff%fe", request{}, "UTF-8"},
		{"invalid UTF-8 in a value", "foo=%ff", request{}, `parameter "foo" must be valid UTF-8`},
		{"invalid UTF-8 in a name", "%ff=1", request{}, "parameter name must be valid UTF-8"},
		{"a control character", "foo=a%0Ab", request{}, "control characters"},
		{"past the bound", "query=" + strings.Repeat("x", 65), request{}, "longer than 64 bytes"},
		// The bound is in bytes: 33 two-byte characters are 66 bytes.
		{"past the bound in bytes", "query=" + strings.Repeat("%C3%A9", 33), request{}, "longer than 64 bytes"},
		{"others past the bound together", "ab=" + strings.Repeat("x", 31) + "&cd=" + strings.Repeat("y", 30), request{}, "longer than 64 bytes together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.parse(tc.raw)
			switch {
			case tc.err == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
				t.Errorf("parse(%.80q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("parse(%.80q) = %+v, %v; want an error saying %q", tc.raw, got, err, tc.err)
			}
		})
	}
}

// recordingOrigin answers every request with a new number and keeps what
// it was asked.
type recordingOrigin struct {
	mu   sync.Mutex
	seen []origin.Request
}

func (o *recordingOrigin) Fetch(_ context.Context, req origin.Request) (cache.Fetched, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, req)
	return cache.Fetched{Data: []byte(strconv.Itoa(len(o.seen)))}, nil
}

func (o *recordingOrigin) calls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// TestEveryQueryStringHasItsOwnEntry asks twice for each query string, as
// the original's callers do, and counts the origin's calls: one per entry.
// Query strings that differ only in their parameters' order share one.
func TestEveryQueryStringHasItsOwnEntry(t *testing.T) {
	org := &recordingOrigin{}
	h := newTestHandler(t, Options{})
	h.o.Origin = org
	groups := [][]string{
		{"", "&"},
		{"foo=bar"},
		{"foo=baz"},
		{"a=1&b=2", "b=2&a=1"},
		{"_=1700000000"},
		{"_=1700000001"},
		{"query=x"},
		{"query=x&foo=bar", "foo=bar&query=x"},
		{"query="},
		{"foo=1&foo=2", "&foo=1&foo=2"},
		{"foo=2&foo=1"},
		{"foo"},
		{"params=x"},
	}
	for i, group := range groups {
		for _, raw := range group {
			for range 2 {
				rec := serveGet(h, raw)
				var body struct{ Data json.RawMessage }
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
					t.Fatalf("GET /data?%s: %d %s; want 200", raw, rec.Code, rec.Body)
				}
				if want := strconv.Itoa(i + 1); string(body.Data) != want {
					t.Errorf("GET /data?%s answered entry %s; want entry %s (the one of %q)", raw, body.Data, want, group[0])
				}
			}
		}
	}
	if got := org.calls(); got != len(groups) {
		t.Errorf("origin calls = %d; want %d, one per distinct query string", got, len(groups))
	}
}

// TestParametersReachTheOrigin shows what the origin is asked for each
// form of query string.
func TestParametersReachTheOrigin(t *testing.T) {
	org := &recordingOrigin{}
	h := newTestHandler(t, Options{})
	h.o.Origin = org
	for _, raw := range []string{"", "query=x", "query=x&foo=bar&foo=baz", "_=1"} {
		if rec := serveGet(h, raw); rec.Code != http.StatusOK {
			t.Fatalf("GET /data?%s: %d %s", raw, rec.Code, rec.Body)
		}
	}
	want := []origin.Request{
		{},
		{Query: "x"},
		{Query: "x", Params: url.Values{"foo": {"bar", "baz"}}},
		{Params: url.Values{"_": {"1"}}},
	}
	if !reflect.DeepEqual(org.seen, want) {
		t.Errorf("the origin was asked %+v; want %+v", org.seen, want)
	}
}

func TestCachedAtForms(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 7, 51, 442_000_000, time.UTC)
	res := cache.Result{Source: cache.SourceCache, Data: []byte(`"d"`), CachedAt: at, ServedAt: at, FreshUntil: at.Add(5 * time.Second)}
	aware := (&Handler{o: Options{}}).body(res)
	if want := `"cached_at":"2026-11-26T05:07:51.442+00:00"`; !strings.Contains(string(aware), want) {
		t.Errorf("aware body %s; want it to hold %s", aware, want)
	}
	naive := (&Handler{o: Options{NaiveCachedAt: true}}).body(res)
	if want := `"cached_at":"` + at.Local().Format("2006-01-02T15:04:05") + `.442000"`; !strings.Contains(string(naive), want) {
		t.Errorf("naive body %s; want it to hold %s", naive, want)
	}
	// isoformat() leaves out a fraction of zero.
	res.CachedAt = at.Truncate(time.Second)
	naive = (&Handler{o: Options{NaiveCachedAt: true}}).body(res)
	if want := `"cached_at":"` + at.Local().Format("2006-01-02T15:04:05") + `"`; !strings.Contains(string(naive), want) {
		t.Errorf("naive body on a whole second %s; want it to hold %s", naive, want)
	}
}

func TestMatches(t *testing.T) {
	const etag = `W/"abc"`
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`W/"abc"`, true},
		{`"abc"`, true}, // weak comparison ignores the W/ prefix
		{`W/"x", W/"abc"`, true},
		{`W/"x",W/"abc"`, true},
		{` W/"abc" `, true},
		{"*", true},
		{` * `, true},
		{`W/"x"`, false},
		{`W/"ab"`, false},
		{`W/"abcd"`, false},
		{`W/"ABC"`, false},
		{`abc`, false},
		{`W/abc`, false},
		{`,`, false},
	} {
		if got := matches(tc.header, etag); got != tc.want {
			t.Errorf("matches(%q, %q) = %t; want %t", tc.header, etag, got, tc.want)
		}
	}
}

// echoOrigin answers with the query it was asked, so a test can see which
// query reached the origin.
type echoOrigin struct{}

func (echoOrigin) Fetch(_ context.Context, req origin.Request) (cache.Fetched, error) {
	b, err := json.Marshal(req.Query)
	return cache.Fetched{Data: b}, err
}

func newTestHandler(t testing.TB, o Options) *Handler {
	t.Helper()
	store, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(store, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = store.Close()
	})
	o.Cache, o.Origin = c, echoOrigin{}
	if o.Query == nil {
		o.Query = dataQueries(cache.Policy{TTL: 5 * time.Second})
	}
	return New(o)
}

// dataQueries stands in for the GraphQL door's query builder: the data
// field's coordinate and policy, with the arguments the shim gives.
func dataQueries(p cache.Policy) func(map[string]any) (cache.Query, error) {
	return func(args map[string]any) (cache.Query, error) {
		return cache.Query{Field: "Query.data", Args: args, Policy: p}, nil
	}
}

func serveGet(h *Handler, rawQuery string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/data", nil)
	req.URL.RawQuery = rawQuery
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.Get().ServeHTTP(rec, req)
	return rec
}

func TestGetIfNoneMatch(t *testing.T) {
	h := newTestHandler(t, Options{})
	first := serveGet(h, "query=a")
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("first: %d ETag %q; want 200 with an ETag", first.Code, etag)
	}
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `W/"x", ` + etag, "*"} {
		rec := serveGet(h, "query=a", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d %q; want 304 with no body", inm, rec.Code, rec.Body)
		}
		// A cache that revalidated its copy updates its headers from these.
		hdr := rec.Header()
		if hdr.Get("ETag") != etag || hdr.Get("Cache-Control") != first.Header().Get("Cache-Control") || hdr.Get("Age") == "" || !strings.Contains(hdr.Get("Cache-Status"), "; hit; ") {
			t.Errorf("If-None-Match %s: headers %v; want the ETag, Cache-Control, Age and a hit's Cache-Status", inm, hdr)
		}
	}
	if rec := serveGet(h, "query=a", "If-None-Match", `W/"x"`); rec.Code != http.StatusOK {
		t.Errorf("If-None-Match naming another entry: %d; want 200", rec.Code)
	}
	if rec := serveGet(h, "query=b", "If-None-Match", etag); rec.Code != http.StatusOK {
		t.Errorf("another query's ETag: %d; want 200", rec.Code)
	}

	// An answer that was not stored has no validator, so nothing matches it,
	// not even *.
	private := newTestHandler(t, Options{Query: dataQueries(cache.Policy{TTL: time.Second, Scope: cache.ScopePrivate})})
	if rec := serveGet(private, "query=a", "If-None-Match", "*"); rec.Code != http.StatusOK || rec.Header().Get("ETag") != "" {
		t.Errorf("unstored answer with If-None-Match *: %d ETag %q; want 200 without an ETag", rec.Code, rec.Header().Get("ETag"))
	}
}

const fuzzMaxQueryLen = 64

// FuzzParse drives raw query strings through the handler's parse path.
// Whatever parse accepts must be what the query string holds (the query
// parameter at most once, every other parameter with its values in order),
// in valid UTF-8, within the bounds, and be what reaches the origin;
// whatever it refuses must be a 400 with a JSON error; nothing panics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"query=weather:paris",
		"query=weather%3Aparis",
		"query=a+b%20c",
		"query=",
		"query",
		"",
		"&",
		"=x",
		"query=a&query=b",
		"query=a&foo=bar",
		"foo=bar&query=a",
		"foo=1&foo=2",
		"_=1700000000",
		"Query=a",
		"query=%zz",
		"query=%",
		"query=a;b",
		"query=%ff%fe",
		"foo=%ff",
		"query=%ed%a0%80", // an encoded UTF-16 surrogate: not UTF-8
		"query=caf%C3%A9",
		"query=%00",
		"foo=%7f",
		"query=" + strings.Repeat("x", fuzzMaxQueryLen),
		"query=" + strings.Repeat("x", fuzzMaxQueryLen+1),
		"query=" + strings.Repeat("%C3%A9", fuzzMaxQueryLen/2+1),
		"foo=" + strings.Repeat("x", fuzzMaxQueryLen),
		"query=a&&",
		"query=a=b",
		"%71uery=a", // an escaped name
	} {
		f.Add(seed)
	}
	h := newTestHandler(f, Options{MaxQueryLen: fuzzMaxQueryLen})
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := h.parse(raw)
		rec := serveGet(h, raw)
		if err != nil {
			var body struct{ Error, Code string }
			if !reflect.DeepEqual(req, request{}) {
				t.Errorf("parse(%q) refused it but returned %+v", raw, req)
			}
			if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Code != "BAD_REQUEST" || body.Error == "" {
				t.Errorf("refused %q: handler answered %d %s; want 400 with a JSON error", raw, rec.Code, rec.Body)
			}
			return
		}
		vals, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("parse(%q) accepted what url.ParseQuery refuses: %v", raw, perr)
		}
		if q, ok := vals["query"]; ok != req.hasQuery || (ok && (len(q) != 1 || q[0] != req.Query)) {
			t.Errorf("parse(%q) read query %q (given: %t); the string holds %q", raw, req.Query, req.hasQuery, q)
		}
		size := 0
		for name, vs := range vals {
			if name == "query" {
				continue
			}
			if !reflect.DeepEqual(req.Params[name], vs) {
				t.Errorf("parse(%q) read %q=%q; the string holds %q", raw, name, req.Params[name], vs)
			}
			size += len(name)
			for _, v := range vs {
				size += len(v)
			}
			if !utf8.ValidString(name + strings.Join(vs, "")) {
				t.Errorf("parse(%q) accepted invalid UTF-8 in %q=%q", raw, name, vs)
			}
		}
		others := len(vals)
		if req.hasQuery {
			others--
		}
		if len(req.Params) != others {
			t.Errorf("parse(%q) read parameters %v; the string holds %v", raw, req.Params, vals)
		}
		if !utf8.ValidString(req.Query) || len(req.Query) > fuzzMaxQueryLen || size > fuzzMaxQueryLen {
			t.Errorf("parse(%q) accepted %+v: invalid UTF-8 or past the bounds of %d bytes", raw, req, fuzzMaxQueryLen)
		}
		var body struct {
			Data string `json:"data"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Data != req.Query {
			t.Errorf("accepted %q: handler answered %d %s; want 200 with the origin's answer to %q", raw, rec.Code, rec.Body, req.Query)
		}
	})
}
