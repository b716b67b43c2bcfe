package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/internal/cache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	h := New(Options{MaxQueryLen: 64})
	for _, tc := range []struct {
		name, raw string
		want      string
		err       string // a part of the error; empty: accepted
	}{
		{"plain", "query=weather:paris", "weather:paris", ""},
		{"escaped", "query=weather%3Aparis", "weather:paris", ""},
		{"plus is a space", "query=a+b%20c", "a b c", ""},
		{"empty value", "query=", "", ""},
		{"no value", "query", "", ""},
		{"UTF-8", "query=caf%C3%A9", "café", ""},
		{"at the bound", "query=" + strings.Repeat("x", 64), strings.Repeat("x", 64), ""},
		{"at the bound in bytes", "query=" + strings.Repeat("é", 32), strings.Repeat("é", 32), ""},
		{"empty", "", "", "missing parameter query"},
		{"only an ampersand", "&", "", "missing parameter query"},
		{"repeated", "query=a&query=a", "", "given once"},
		{"unknown", "query=a&foo=bar", "", `unknown parameter "foo"`},
		{"unknown only", "foo=bar", "", `unknown parameter "foo"`},
		{"names are case-sensitive", "Query=a", "", `unknown parameter "Query"`},
		{"empty name", "=x", "", `unknown parameter ""`},
		{"malformed escape", "query=%zz", "", "malformed"},
		{"semicolon", "query=a;b", "", "malformed"},
		{"invalid UTF-8", "query=%ff%fe", "", "UTF-8"},
		{"past the bound", "query=" + strings.Repeat("x", 65), "", "longer than 64 bytes"},
		// The bound is in bytes: 33 two-byte characters are 66 bytes.
		{"past the bound in bytes", "query=" + strings.Repeat("%C3%A9", 33), "", "longer than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.parse(tc.raw)
			switch {
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("parse(%.80q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("parse(%.80q) = %q, %v; want an error saying %q", tc.raw, got, err, tc.err)
			}
		})
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

func (echoOrigin) Fetch(_ context.Context, q string) (cache.Fetched, error) {
	b, err := json.Marshal(q)
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
	o.Cache, o.Origin, o.Field = c, echoOrigin{}, "Query.data"
	if o.Policy.TTL == 0 {
		o.Policy.TTL = 5 * time.Second
	}
	return New(o)
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
	private := newTestHandler(t, Options{Policy: cache.Policy{TTL: time.Second, Scope: cache.ScopePrivate}})
	if rec := serveGet(private, "query=a", "If-None-Match", "*"); rec.Code != http.StatusOK || rec.Header().Get("ETag") != "" {
		t.Errorf("unstored answer with If-None-Match *: %d ETag %q; want 200 without an ETag", rec.Code, rec.Header().Get("ETag"))
	}
}

const fuzzMaxQueryLen = 64

// FuzzParse drives raw query strings through the handler's parse path.
// Whatever parse accepts must be exactly one query parameter, in valid UTF-8,
// within the bound, and be what reaches the origin; whatever it refuses must
// be a 400 with a JSON error; nothing panics.
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
		"Query=a",
		"query=%zz",
		"query=%",
		"query=a;b",
		"query=%ff%fe",
		"query=%ed%a0%80", // an encoded UTF-16 surrogate: not UTF-8
		"query=caf%C3%A9",
		"query=%00",
		"query=" + strings.Repeat("x", fuzzMaxQueryLen),
		"query=" + strings.Repeat("x", fuzzMaxQueryLen+1),
		"query=" + strings.Repeat("%C3%A9", fuzzMaxQueryLen/2+1),
		"query=a&&",
		"query=a=b",
		"%71uery=a", // an escaped name
	} {
		f.Add(seed)
	}
	h := newTestHandler(f, Options{MaxQueryLen: fuzzMaxQueryLen})
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := h.parse(raw)
		rec := serveGet(h, raw)
		if err != nil {
			var body struct{ Error, Code string }
			if q != "" {
				t.Errorf("parse(%q) refused it but returned %q", raw, q)
			}
			if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Code != "BAD_REQUEST" || body.Error == "" {
				t.Errorf("refused %q: handler answered %d %s; want 400 with a JSON error", raw, rec.Code, rec.Body)
			}
			return
		}
		if !utf8.ValidString(q) || len(q) > fuzzMaxQueryLen {
			t.Errorf("parse(%q) accepted %q: invalid UTF-8 or longer than %d bytes", raw, q, fuzzMaxQueryLen)
		}
		vals, perr := url.ParseQuery(raw)
		if perr != nil || len(vals) != 1 || len(vals["query"]) != 1 || vals["query"][0] != q {
			t.Errorf("parse(%q) accepted %q, but the string holds %v (%v); want exactly one query parameter", raw, q, vals, perr)
		}
		var body struct {
			Data string `json:"data"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Data != q {
			t.Errorf("accepted %q: handler answered %d %s; want 200 with the origin's answer to %q", raw, rec.Code, rec.Body, q)
		}
	})
}
