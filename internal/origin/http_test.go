package origin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

// upstream answers with what answer says for the request it got.
func upstream(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(answer))
	t.Cleanup(srv.Close)
	return srv
}

func jsonAnswer(cacheControl, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		_, _ = w.Write([]byte(body))
	}
}

func TestHTTPBuildsTheUpstreamURL(t *testing.T) {
	var got *url.URL
	srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL
		jsonAnswer("", `{}`)(w, r)
	})
	const query = "paris & co/é"
	for _, tc := range []struct {
		url                 string
		params              url.Values
		wantPath, wantQuery string
	}{
		{srv.URL + "/weather/{query}", nil, "/weather/paris & co/é", ""},
		{srv.URL + "/search", nil, "/search", "query=paris+%26+co%2F%C3%A9"},
		{srv.URL + "/search?lang=fr", nil, "/search", "lang=fr&query=paris+%26+co%2F%C3%A9"},
		// The caller's other parameters follow, sorted, but never for a
		// name the operator's URL sets: that value stays the operator's.
		{srv.URL + "/weather/{query}", url.Values{"page": {"2"}, "_": {"1"}}, "/weather/paris & co/é", "_=1&page=2"},
		{srv.URL + "/search?lang=fr&key=s3cret", url.Values{"lang": {"en"}, "key": {"mine"}, "tag": {"a", "b"}}, "/search", "lang=fr&key=s3cret&query=paris+%26+co%2F%C3%A9&tag=a&tag=b"},
		{srv.URL + "/search?q={query}", url.Values{"q": {"other"}}, "/search", "q=paris+%26+co%2F%C3%A9"},
	} {
		if _, err := (&origin.HTTP{URL: tc.url}).Fetch(context.Background(), origin.Request{Query: query, Params: tc.params}); err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got.Path != tc.wantPath || got.RawQuery != tc.wantQuery {
			t.Errorf("%s with %v: upstream got path %q query %q; want %q and %q", tc.url, tc.params, got.Path, got.RawQuery, tc.wantPath, tc.wantQuery)
		}
	}
}

func TestHTTPRefusesUnusableAnswers(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter, *http.Request){
		"500": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
		"503 without Retry-After": func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		},
		"HTML": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>maintenance</html>"))
		},
		"broken JSON": jsonAnswer("", `{"a":`),
		"too large":   jsonAnswer("", `"`+strings.Repeat("x", 2000)+`"`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&origin.HTTP{URL: upstream(t, answer).URL, MaxBytes: 1000}).Fetch(context.Background(), origin.Request{Query: "q"})
			if !errors.Is(err, origin.ErrUpstream) {
				t.Errorf("got %v; want ErrUpstream", err)
			}
		})
	}
}

func TestHTTPUpstreamSignals(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		notFound   bool
		noStore    bool
		maxAge     time.Duration
		retryAfter time.Duration // -1: no RetryAfterError
	}{
		{name: "404", status: 404, notFound: true, retryAfter: -1},
		{name: "410", status: 410, notFound: true, retryAfter: -1},
		{name: "404 max-age", status: 404, header: map[string]string{"Cache-Control": "max-age=3"}, notFound: true, maxAge: 3 * time.Second, retryAfter: -1},
		{name: "404 no-store", status: 404, header: map[string]string{"Cache-Control": "no-store"}, notFound: true, noStore: true, retryAfter: -1},
		{name: "503 seconds", status: 503, header: map[string]string{"Retry-After": "2"}, retryAfter: 2 * time.Second},
		{name: "429 seconds", status: 429, header: map[string]string{"Retry-After": " 7 "}, retryAfter: 7 * time.Second},
		{name: "503 date after the upstream's Date", status: 503, header: map[string]string{
			"Date": date.Format(http.TimeFormat), "Retry-After": date.Add(90 * time.Second).Format(http.TimeFormat),
		}, retryAfter: 90 * time.Second},
		{name: "503 date in the past", status: 503, header: map[string]string{
			"Date": date.Format(http.TimeFormat), "Retry-After": date.Add(-time.Hour).Format(http.TimeFormat),
		}, retryAfter: 0},
		{name: "503 garbage Retry-After", status: 503, header: map[string]string{"Retry-After": "soon"}, retryAfter: -1},
		{name: "500 with Retry-After", status: 500, header: map[string]string{"Retry-After": "2"}, retryAfter: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := upstream(t, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			})
			got, err := (&origin.HTTP{URL: srv.URL}).Fetch(context.Background(), origin.Request{Query: "q"})
			var ra *cache.RetryAfterError
			switch {
			case tc.notFound:
				if err != nil || !got.NotFound || got.NoStore != tc.noStore || got.MaxAge != tc.maxAge {
					t.Errorf("got %+v, %v; want NotFound, NoStore %v, MaxAge %v", got, err, tc.noStore, tc.maxAge)
				}
			case tc.retryAfter < 0:
				if !errors.Is(err, origin.ErrUpstream) || errors.As(err, &ra) {
					t.Errorf("got %v; want ErrUpstream without a RetryAfterError", err)
				}
			default:
				if !errors.As(err, &ra) || ra.After != tc.retryAfter || !errors.Is(err, origin.ErrUpstream) {
					t.Errorf("got %v; want a RetryAfterError of %v wrapping ErrUpstream", err, tc.retryAfter)
				}
			}
		})
	}
}

// cacheOn is a cache on the embedded store with a one-hour TTL.
func cacheOn(t *testing.T, opts cache.Options) *cache.Cache {
	t.Helper()
	s, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c, err := cache.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

var hour = cache.Query{Field: "Query.data", Args: map[string]any{"query": "q"}, Policy: cache.Policy{TTL: time.Hour}}

func TestHTTPCacheControlShortensOrForbidsCaching(t *testing.T) {
	for _, tc := range []struct {
		cacheControl string
		stored       bool
		maxAge       int
	}{
		{"", true, 3600},
		{"max-age=30", true, 30},
		{"public, max-age=30, s-maxage=10", true, 10},
		{"max-age=86400", true, 3600}, // never longer than the service's own TTL
		{"no-store", false, 0},
		{"private, max-age=60", false, 0},
		{"no-cache", false, 0},
	} {
		t.Run(tc.cacheControl, func(t *testing.T) {
			o := &origin.HTTP{URL: upstream(t, jsonAnswer(tc.cacheControl, `{"temp":12}`)).URL}
			c := cacheOn(t, cache.Options{})
			res, err := c.Get(context.Background(), hour, func(ctx context.Context) (cache.Fetched, error) { return o.Fetch(ctx, origin.Request{Query: "q"}) })
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Data) != `{"temp":12}` || res.Stored != tc.stored || (tc.stored && res.MaxAge() != tc.maxAge) {
				t.Errorf("got %s stored %v max-age %d; want stored %v max-age %d", res.Data, res.Stored, res.MaxAge(), tc.stored, tc.maxAge)
			}
		})
	}
}

func TestHTTPTimeoutIsTheCachesOriginTimeout(t *testing.T) {
	slow := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	o := &origin.HTTP{URL: slow.URL}
	c := cacheOn(t, cache.Options{OriginTimeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.Get(context.Background(), hour, func(ctx context.Context) (cache.Fetched, error) { return o.Fetch(ctx, origin.Request{Query: "q"}) })
	if !errors.Is(err, cache.ErrOriginTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("got %v after %v; want ErrOriginTimeout after about 50ms", err, time.Since(start))
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.example.com/weather/{query}": true,
		"http://127.0.0.1:9000/search?x=1":        true,
		"ftp://example.com":                       false,
		"example.com/{query}":                     false,
		"":                                        false,
	} {
		if err := origin.CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v; want ok %v", raw, err, ok)
		}
	}
}

func TestHTTPTagsFromCacheTagAndSurrogateKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string][]string
		want    string
	}{
		{"none", nil, ""},
		{"Cache-Tag", map[string][]string{"Cache-Tag": {"product-1, category:shoes,,"}}, "product-1,category:shoes"},
		{"Surrogate-Key", map[string][]string{"Surrogate-Key": {" product-1  category:shoes "}}, "product-1,category:shoes"},
		{"both and repeated", map[string][]string{"Cache-Tag": {"a", "b"}, "Surrogate-Key": {"c a"}}, "a,b,c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tc.headers {
					w.Header()[k] = vs
				}
				jsonAnswer("", `1`)(w, r)
			})
			o := &origin.HTTP{URL: srv.URL}
			res, err := cacheOn(t, cache.Options{}).Get(context.Background(), hour, func(ctx context.Context) (cache.Fetched, error) { return o.Fetch(ctx, origin.Request{Query: "q"}) })
			if err != nil || res.TagList != tc.want {
				t.Errorf("got tags %q, %v; want %q", res.TagList, err, tc.want)
			}
		})
	}
}
