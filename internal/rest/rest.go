// Package rest is the REST shim for legacy callers of the original Flask
// service: GET /data?query=X answers from the same cache entry as the
// GraphQL field data(query: "X"), in the original JSON shape, with the
// standard HTTP caching headers (Cache-Control, Age, ETag, Cache-Status).
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gqlcache/gqlcache/internal/admin"
	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/gqlscalar"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/results"
)

// contentTypeJSON is shared by every answer; net/http only reads it.
var contentTypeJSON = []string{"application/json"}

// Options configures the shim.
type Options struct {
	Cache  *cache.Cache
	Origin origin.Origin
	// Field is the schema coordinate the shim stands for ("Query.data"), and
	// Policy that field's policy, so both doors share entries.
	Field  string
	Policy cache.Policy
	// Stale is the cache's stale window, announced to HTTP caches as
	// stale-while-revalidate and stale-if-error. Zero: not announced.
	Stale time.Duration
	// MaxQueryLen bounds the query parameter in bytes. Zero: 4096.
	MaxQueryLen int
	// AdminToken authorises DELETE. Empty: DELETE is always refused.
	AdminToken string
	// CacheName names this cache in Cache-Status headers. Empty: "gqlcache".
	CacheName string
	// Results counts the answers at this door. Nil: not counted.
	Results *results.Counter
}

// Handler serves /data.
type Handler struct{ o Options }

// New returns the shim's handler.
func New(o Options) *Handler {
	if o.MaxQueryLen <= 0 {
		o.MaxQueryLen = 4096
	}
	if o.CacheName == "" {
		o.CacheName = "gqlcache"
	}
	return &Handler{o: o}
}

// Get answers GET /data?query=X.
func (h *Handler) Get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := h.parse(r.URL.RawQuery)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeBadRequest, err.Error())
			return
		}
		res, err := h.o.Cache.Get(r.Context(), h.cacheQuery(q), func(ctx context.Context) (cache.Fetched, error) {
			return h.o.Origin.Fetch(ctx, q)
		})
		h.o.Results.Count(results.REST, h.o.Field, res, err)
		if err != nil {
			writeCacheError(w, r, err)
			return
		}
		// Header values share one backing array and the names are already
		// canonical: this is the hottest path the service has.
		vals := make([]string, 5)
		vals[0], vals[1], vals[2] = h.cacheControl(res), strconv.Itoa(res.Age()), h.cacheStatus(res)
		hdr := w.Header()
		hdr["Cache-Control"], hdr["Age"], hdr["Cache-Status"] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
		if res.TagList != "" {
			// The entry's tags, so a CDN in front can purge by them too.
			vals[4] = res.TagList
			hdr["Cache-Tag"] = vals[4:5:5]
		}
		if res.Stored {
			vals[3] = `W/"` + strconv.FormatUint(res.ID, 36) + `"`
			hdr["Etag"] = vals[3:4:4]
			if matches(r.Header.Get("If-None-Match"), vals[3]) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		hdr["Content-Type"] = contentTypeJSON
		_, _ = w.Write(body(res))
	})
}

// NotAllowed answers a method /data does not serve, naming those it does.
func NotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		httpapi.WriteError(w, httpapi.CodeMethodNotAllowed, "this endpoint accepts "+allow)
	})
}

// Delete answers DELETE /data?query=X, which invalidates the entry, and
// DELETE /data?tag=A[&tag=B...][&soft=true], which purges every entry
// carrying any of the tags, for a caller holding the admin token.
func (h *Handler) Delete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !admin.Authorized(r.Header.Get("Authorization"), h.o.AdminToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gqlcache"`)
			httpapi.WriteError(w, httpapi.CodeUnauthorized, "a valid admin bearer token is required")
			return
		}
		if vals, err := url.ParseQuery(r.URL.RawQuery); err == nil && vals.Has("tag") {
			h.purgeTags(w, r, vals)
			return
		}
		q, err := h.parse(r.URL.RawQuery)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeBadRequest, err.Error())
			return
		}
		existed, err := h.o.Cache.Invalidate(r.Context(), h.cacheQuery(q))
		if err != nil {
			writeCacheError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"invalidated":%t}`+"\n", existed)
	})
}

// purgeTags answers DELETE /data?tag=...: tag parameters, at most one soft
// (true or false), nothing else.
func (h *Handler) purgeTags(w http.ResponseWriter, r *http.Request, vals url.Values) {
	soft := false
	for name, vs := range vals {
		switch {
		case name == "tag":
		case name == "soft" && len(vs) == 1 && (vs[0] == "true" || vs[0] == "false"):
			soft = vs[0] == "true"
		case name == "soft":
			httpapi.WriteError(w, httpapi.CodeBadRequest, "parameter soft must be given once, true or false")
			return
		default:
			httpapi.WriteError(w, httpapi.CodeBadRequest, fmt.Sprintf("unknown parameter %q: a purge by tag takes tag and soft", name))
			return
		}
	}
	tags := vals["tag"]
	n, err := h.o.Cache.InvalidateTags(r.Context(), tags, soft)
	switch {
	case errors.Is(err, cache.ErrInvalidTag):
		httpapi.WriteError(w, httpapi.CodeBadRequest, err.Error())
		return
	case err != nil:
		writeCacheError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Tags    []string `json:"tags"`
		Soft    bool     `json:"soft"`
		Entries int      `json:"entries"`
	}{tags, soft && h.o.Stale > 0, n})
}

func (h *Handler) cacheQuery(q string) cache.Query {
	return cache.Query{Field: h.o.Field, Args: map[string]any{"query": q}, Policy: h.o.Policy}
}

// parse reads the one parameter the shim knows. The original service keyed
// on the whole path with its query string, so two URLs that differ in
// meaning never shared an entry; here every parameter but query is refused
// rather than silently ignored, and parameter order cannot matter.
func (h *Handler) parse(raw string) (string, error) {
	qs, err := queryValues(raw)
	if err != nil {
		return "", err
	}
	switch {
	case len(qs) == 0:
		return "", errors.New("missing parameter query")
	case len(qs) > 1:
		return "", errors.New("parameter query must be given once")
	case !utf8.ValidString(qs[0]):
		return "", errors.New("parameter query must be valid UTF-8")
	case len(qs[0]) > h.o.MaxQueryLen:
		return "", fmt.Errorf("parameter query is longer than %d bytes", h.o.MaxQueryLen)
	case strings.ContainsFunc(qs[0], isControl):
		// No query to the origin means one, and logs and keys should never hold one.
		return "", errors.New("parameter query must not contain control characters")
	}
	return qs[0], nil
}

// queryValues returns the values of the query parameter, refusing any
// other. The usual request, a lone query=..., skips url.ParseQuery's map.
func queryValues(raw string) ([]string, error) {
	if v, ok := strings.CutPrefix(raw, "query="); ok && !strings.ContainsAny(v, "&;") {
		q, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errors.New("the query string is malformed")
		}
		return []string{q}, nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errors.New("the query string is malformed")
	}
	for name := range vals {
		if name != "query" {
			return nil, fmt.Errorf("unknown parameter %q: only query is accepted", name)
		}
	}
	return vals["query"], nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cacheControl gives HTTP caches the same policy the service follows: the
// entry's whole freshness lifetime as max-age (the Age header says how much
// of it is spent) and the stale window the service itself would serve in.
func (h *Handler) cacheControl(res cache.Result) string {
	return httpapi.Freshness{
		Cacheable: res.Stored,
		Private:   h.o.Policy.Scope == cache.ScopePrivate,
		MaxAge:    res.MaxAge(),
		Stale:     int(h.o.Stale / time.Second),
	}.CacheControl()
}

// cacheStatus describes what the cache did, in RFC 9211's terms.
func (h *Handler) cacheStatus(res cache.Result) string {
	var b strings.Builder
	b.WriteString(h.o.CacheName)
	switch {
	case res.Source == cache.SourceCache:
		// Negative once stale, as RFC 9211 has it.
		ttl := int(math.Floor(res.FreshUntil.Sub(res.ServedAt).Seconds()))
		if !res.Stale {
			ttl = res.ExpiresIn()
		}
		b.WriteString("; hit; ttl=")
		b.WriteString(strconv.Itoa(ttl))
		if res.Collapsed {
			b.WriteString("; collapsed")
		}
	case !res.Stored && res.ID == 0:
		b.WriteString("; fwd=bypass")
	default:
		b.WriteString("; fwd=uri-miss")
		if res.Collapsed {
			b.WriteString("; collapsed")
		}
		if res.Stored {
			b.WriteString("; stored")
		}
	}
	return b.String()
}

// body is the original service's JSON shape. The data is the origin's JSON,
// written as stored.
func body(res cache.Result) []byte {
	src := "cache"
	if res.Source == cache.SourceOrigin {
		src = "database"
	}
	b := make([]byte, 0, len(res.Data)+96)
	b = append(b, `{"source":"`...)
	b = append(b, src...)
	b = append(b, `","data":`...)
	b = append(b, res.Data...)
	b = append(b, `,"cached_at":"`...)
	b = res.CachedAt.UTC().AppendFormat(b, gqlscalar.TimeLayout)
	b = append(b, `","expires_in_seconds":`...)
	b = strconv.AppendInt(b, int64(res.ExpiresIn()), 10)
	b = append(b, "}\n"...)
	return b
}

// matches reports whether an If-None-Match header names etag, by the weak
// comparison RFC 9110 prescribes for it.
func matches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// writeCacheError answers a Get or a purge that failed, in the shared
// vocabulary: a refusal (the origin busy, pausing at its own request, or
// behind its open breaker) is a 503 whose Retry-After says when asking
// again makes sense.
func writeCacheError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := httpapi.CacheError(err); ok {
		e.Write(w)
		return
	}
	if r.Context().Err() != nil {
		// The client left; nobody reads this.
		return
	}
	httpapi.WriteError(w, httpapi.CodeInternal, "internal error")
}
