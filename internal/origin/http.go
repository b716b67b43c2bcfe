package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gqlcache/gqlcache/cache"
)

// HTTP is an origin on an HTTP upstream: the service becomes a caching
// front for it. Its answers' Cache-Control may shorten (max-age, s-maxage)
// or forbid (no-store, no-cache, private) caching; it can never lengthen
// the service's own TTL. A 404 or 410 is an answer (cache.Fetched.NotFound);
// a 429 or 503 with Retry-After is a *cache.RetryAfterError. Their Cache-Tag
// and Surrogate-Key headers tag the entry.
type HTTP struct {
	// URL is the upstream. A {query} placeholder is replaced by the
	// escaped query (as a path segment or a query-string value, wherever it
	// stands); without one, ?query= (or &query=) is appended. A request's
	// other parameters are appended after it, but for names the URL sets
	// itself.
	URL string
	// Client makes the requests. Nil: a client with no timeout of its own,
	// since the cache bounds every fetch by ORIGIN_TIMEOUT.
	Client *http.Client
	// MaxBytes bounds an answer. Zero: 8 MiB.
	MaxBytes int64
}

var _ Origin = (*HTTP)(nil)

// ErrUpstream is wrapped by every error the upstream's answer causes, so a
// caller can tell them from transport failures.
var ErrUpstream = errors.New("upstream answer unusable")

// CheckURL reports whether raw can be an upstream URL.
func CheckURL(raw string) error {
	u, err := url.Parse(strings.ReplaceAll(raw, "{query}", "q"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL, with an optional {query} placeholder")
	}
	return nil
}

// target builds the upstream URL for req: the query escaped for where the
// template's {query} stands (as one path segment, a "/" in it escaped too,
// or as a query-string value), else appended as query=; then the caller's
// other parameters, except any name the URL already has. Those names are
// the operator's: a caller must not replace an upstream's API key, nor add
// a second value that the upstream might read instead.
func (h *HTTP) target(req Request) string {
	u := h.withQuery(req.Query)
	if len(req.Params) == 0 {
		return u
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	own := parsed.Query()
	extra := url.Values{}
	for name, vs := range req.Params {
		if !own.Has(name) {
			extra[name] = vs
		}
	}
	if len(extra) == 0 {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + extra.Encode()
}

func (h *HTTP) withQuery(query string) string {
	esc := url.QueryEscape(query)
	if i := strings.Index(h.URL, "{query}"); i >= 0 {
		if q := strings.IndexByte(h.URL, '?'); q < 0 || i < q {
			esc = url.PathEscape(query)
		}
		return strings.ReplaceAll(h.URL, "{query}", esc)
	}
	sep := "?"
	if strings.Contains(h.URL, "?") {
		sep = "&"
	}
	return h.URL + sep + "query=" + esc
}

// Fetch implements Origin.
func (h *HTTP) Fetch(ctx context.Context, r Request) (cache.Fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.target(r), nil)
	if err != nil {
		return cache.Fetched{}, err
	}
	req.Header.Set("Accept", "application/json")
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return cache.Fetched{}, err
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound || code == http.StatusGone:
		got := cache.Fetched{NotFound: true}
		if d, ok := freshness(resp.Header.Values("Cache-Control")); ok {
			got.MaxAge, got.NoStore = d, d <= 0
		}
		return got, nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		err := fmt.Errorf("%w: status %d", ErrUpstream, code)
		if after, ok := retryAfter(resp.Header, time.Now()); ok {
			return cache.Fetched{}, &cache.RetryAfterError{After: after, Err: err}
		}
		return cache.Fetched{}, err
	case code < 200 || code > 299:
		return cache.Fetched{}, fmt.Errorf("%w: status %d", ErrUpstream, code)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return cache.Fetched{}, fmt.Errorf("%w: content type %q, not JSON", ErrUpstream, mt)
	}
	limit := h.MaxBytes
	if limit <= 0 {
		limit = 8 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return cache.Fetched{}, err
	}
	if int64(len(body)) > limit {
		return cache.Fetched{}, fmt.Errorf("%w: larger than %d bytes", ErrUpstream, limit)
	}
	if !json.Valid(body) {
		return cache.Fetched{}, fmt.Errorf("%w: body is not valid JSON", ErrUpstream)
	}
	got := cache.Fetched{Data: body, Tags: tags(resp.Header)}
	if d, ok := freshness(resp.Header.Values("Cache-Control")); ok {
		got.MaxAge, got.NoStore = d, d <= 0
	}
	return got, nil
}

// tags reads the answer's tags from Cache-Tag (comma-separated, as
// Cloudflare reads it) and Surrogate-Key (space-separated, as Fastly does).
// The cache bounds and checks them.
func tags(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Cache-Tag") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	for _, v := range h.Values("Surrogate-Key") {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// freshness reads how long an answer may be cached: zero for no-store,
// no-cache or private (this service's entries are shared), else s-maxage
// or max-age. ok is false when Cache-Control says nothing about it.
func freshness(values []string) (d time.Duration, ok bool) {
	maxAge, sMaxAge := -1, -1
	for _, v := range values {
		for dir := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache", "private":
				return 0, true
			case "max-age":
				if n, err := strconv.Atoi(strings.Trim(arg, `"`)); err == nil && n >= 0 {
					maxAge = n
				}
			case "s-maxage":
				if n, err := strconv.Atoi(strings.Trim(arg, `"`)); err == nil && n >= 0 {
					sMaxAge = n
				}
			}
		}
	}
	switch {
	case sMaxAge >= 0:
		return time.Duration(sMaxAge) * time.Second, true
	case maxAge >= 0:
		return time.Duration(maxAge) * time.Second, true
	}
	return 0, false
}

// retryAfter reads Retry-After as seconds or as an HTTP date. A date is
// taken relative to the upstream's own Date header when it sends one, so
// that a skew between the two clocks does not stretch or cancel the pause.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return max(at.Sub(now), 0), true
}
