// Package rest is the REST shim for legacy callers of the original Flask
// service: GET /data, with any query string, in the original JSON shape,
// with the standard HTTP caching headers (Cache-Control, Age, ETag,
// Cache-Status). GET /data?query=X answers from the same cache entry as the
// GraphQL field data(query: "X").
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

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/admin"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/results"
)

// contentTypeJSON is shared by every answer; net/http only reads it.
var contentTypeJSON = []string{"application/json"}

// DefaultMaxQueryLen is the bound on the query parameter when
// Options.MaxQueryLen is zero.
const DefaultMaxQueryLen = 4096

// Options configures the shim.
type Options struct {
	Cache  *cache.Cache
	Origin origin.Origin
	// Query is the cache query of the GraphQL field the shim stands for, for
	// its arguments: the GraphQL door's own (fieldcache.Extension.Query for
	// "Query.data"), so that both doors share entries.
	Query func(args map[string]any) (cache.Query, error)
	// Stale is the cache's stale window, announced to HTTP caches as
	// stale-while-revalidate and stale-if-error. Zero: not announced.
	Stale time.Duration
	// MaxQueryLen bounds the query parameter in bytes, and the other
	// parameters together. Zero: DefaultMaxQueryLen.
	MaxQueryLen int
	// AdminToken authorises DELETE. Empty: DELETE is always refused.
	AdminToken string
	// CacheName names this cache in Cache-Status headers. Empty: "gqlcache".
	CacheName string
	// NaiveCachedAt writes cached_at as the original service did, with
	// Python's datetime.now().isoformat(): the service's local time (its TZ
	// variable, else the system's zone; UTC in most containers), to the
	// microsecond, with no offset, for callers that subtract it from their
	// own naive datetime.now(). False: RFC 3339 in UTC with a +00:00 offset
	// and milliseconds, which datetime.fromisoformat reads from Python 3.7
	// on (it refuses a Z before 3.11).
	NaiveCachedAt bool
	// Results counts the answers at this door. Nil: not counted.
	Results *results.Counter
}

// Handler serves /data.
type Handler struct{ o Options }

// New returns the shim's handler.
func New(o Options) *Handler {
	if o.MaxQueryLen <= 0 {
		o.MaxQueryLen = DefaultMaxQueryLen
	}
	if o.CacheName == "" {
		o.CacheName = "gqlcache"
	}
	return &Handler{o: o}
}

// Get answers GET /data with any query string.
func (h *Handler) Get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := h.parse(r.URL.RawQuery)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeBadRequest, err.Error())
			return
		}
		q, err := h.cacheQuery(req)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeInternal, err.Error())
			return
		}
		res, err := h.o.Cache.Get(r.Context(), q, func(ctx context.Context) (cache.Fetched, error) {
			return h.o.Origin.Fetch(ctx, req.Request)
		})
		h.o.Results.Count(results.REST, q.Field, res, err)
		if err != nil {
			writeCacheError(w, r, err)
			return
		}
		// Header values share one backing array and the names are already
		// canonical: this is the hottest path the service has.
		vals := make([]string, 5)
		vals[0], vals[1], vals[2] = h.cacheControl(res, q.Policy), strconv.Itoa(res.Age()), h.cacheStatus(res)
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
		_, _ = w.Write(h.body(res))
	})
}

// NotAllowed answers a method /data does not serve, naming those it does.
func NotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		httpapi.WriteError(w, httpapi.CodeMethodNotAllowed, "this endpoint accepts "+allow)
	})
}

// Delete answers DELETE /data?tag=A[&tag=B...][&soft=true], which purges
// every entry carrying any of the tags, and DELETE with any other query
// string, which invalidates the entry GET answers with that query string,
// for a caller holding the admin token.
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
		req, err := h.parse(r.URL.RawQuery)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeBadRequest, err.Error())
			return
		}
		q, err := h.cacheQuery(req)
		if err != nil {
			httpapi.WriteError(w, httpapi.CodeInternal, err.Error())
			return
		}
		existed, err := h.o.Cache.Invalidate(r.Context(), q)
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
	if err != nil {
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

// request is a /data query string, read: what it asks the origin, and
// whether it gave the query parameter at all.
type request struct {
	origin.Request
	hasQuery bool
}

// noArgs keys GET /data without a query string; keys only read it.
var noArgs = map[string]any{}

// cacheQuery keys the entry req reads. The original service keyed on the
// whole query string, so every parameter is part of the key, and only their
// order is not. A lone query parameter has the arguments of data(query:),
// so both doors share that entry; anything else has arguments GraphQL
// cannot give (no query, or params), so it never meets a GraphQL entry.
func (h *Handler) cacheQuery(req request) (cache.Query, error) {
	var args map[string]any
	switch {
	case req.Params == nil && req.hasQuery:
		args = map[string]any{"query": req.Query}
	case req.Params == nil:
		args = noArgs
	default:
		params := make(map[string]any, len(req.Params))
		for name, vs := range req.Params {
			vals := make([]any, len(vs))
			for i, v := range vs {
				vals[i] = v
			}
			params[name] = vals
		}
		args = map[string]any{"params": params}
		if req.hasQuery {
			args["query"] = req.Query
		}
	}
	return h.o.Query(args)
}

// parse reads a /data query string. Every query string the original service
// took is taken, but for malformed ones: a bad escape, a ';' (which Go, like
// the browsers, does not take for a separator), invalid UTF-8, a control
// character (none means anything to an origin, and logs should never hold
// one), a query parameter given twice (which one would the origin be
// asked?) or longer than MaxQueryLen, and other parameters longer than
// MaxQueryLen together.
func (h *Handler) parse(raw string) (request, error) {
	if raw == "" {
		// GET /data: the original service's one documented call.
		return request{}, nil
	}
	if v, ok := strings.CutPrefix(raw, "query="); ok && !strings.ContainsAny(v, "&;") {
		// The usual request, a lone query=..., skips url.ParseQuery's map.
		q, err := url.QueryUnescape(v)
		if err != nil {
			return request{}, errMalformed
		}
		if err := h.checkQuery(q); err != nil {
			return request{}, err
		}
		return request{Request: origin.Request{Query: q}, hasQuery: true}, nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return request{}, errMalformed
	}
	var req request
	size := 0
	for name, vs := range vals {
		if name == "query" {
			if len(vs) != 1 {
				return request{}, errors.New("parameter query must be given once")
			}
			req.Query, req.hasQuery = vs[0], true
			continue
		}
		if err := checkText("parameter name", name); err != nil {
			return request{}, err
		}
		size += len(name)
		for _, v := range vs {
			if err := checkText("parameter "+strconv.Quote(name), v); err != nil {
				return request{}, err
			}
			size += len(v)
		}
	}
	if size > h.o.MaxQueryLen {
		return request{}, fmt.Errorf("the parameters other than query are longer than %d bytes together", h.o.MaxQueryLen)
	}
	delete(vals, "query")
	if len(vals) > 0 {
		req.Params = vals
	}
	if req.hasQuery {
		if err := h.checkQuery(req.Query); err != nil {
			return request{}, err
		}
	}
	return req, nil
}

var errMalformed = errors.New("the query string is malformed: a bad %-escape, or a ';' (write it %3B)")

func (h *Handler) checkQuery(q string) error {
	if len(q) > h.o.MaxQueryLen {
		return fmt.Errorf("parameter query is longer than %d bytes", h.o.MaxQueryLen)
	}
	return checkText("parameter query", q)
}

func checkText(what, s string) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New(what + " must be valid UTF-8")
	case strings.ContainsFunc(s, isControl):
		return errors.New(what + " must not contain control characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cacheControl gives HTTP caches the same policy the service follows: the
// entry's whole freshness lifetime as max-age (the Age header says how much
// of it is spent) and the stale window the service itself would serve in.
func (h *Handler) cacheControl(res cache.Result, p cache.Policy) string {
	return httpapi.Freshness{
		Cacheable: res.Stored,
		Private:   p.Scope == cache.ScopePrivate,
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
func (h *Handler) body(res cache.Result) []byte {
	src := "cache"
	if res.Source == cache.SourceOrigin {
		src = "database"
	}
	// The fixed parts come to at most 112 bytes: one allocation for the body.
	b := make([]byte, 0, len(res.Data)+112)
	b = append(b, `{"source":"`...)
	b = append(b, src...)
	b = append(b, `","data":`...)
	b = append(b, res.Data...)
	b = append(b, `,"cached_at":"`...)
	if h.o.NaiveCachedAt {
		b = appendIsoformat(b, res.CachedAt.Local())
	} else {
		b = res.CachedAt.UTC().AppendFormat(b, awareLayout)
	}
	b = append(b, `","expires_in_seconds":`...)
	b = strconv.AppendInt(b, int64(res.ExpiresIn()), 10)
	b = append(b, "}\n"...)
	return b
}

// awareLayout is RFC 3339 with milliseconds and a numeric offset, +00:00 in
// UTC: the instant GraphQL's cachedAt names, in a form Python's
// datetime.fromisoformat reads in every version since 3.7.
const awareLayout = "2006-01-02T15:04:05.000-07:00"

// appendIsoformat writes t as Python's datetime.isoformat() writes a naive
// datetime: no offset, and microseconds only when there are some.
func appendIsoformat(b []byte, t time.Time) []byte {
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	us := t.Nanosecond() / 1000
	if us == 0 {
		return b
	}
	frac := [7]byte{'.'}
	for i := 6; i > 0; i-- {
		frac[i] = byte('0' + us%10)
		us /= 10
	}
	return append(b, frac[:]...)
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
