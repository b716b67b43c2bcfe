package fieldcache

import (
	"context"
	"net/http"
	"sync"

	"github.com/gqlcache/gqlcache/cache"
)

// Handler wraps a gqlgen server: it names each request's caller for
// PRIVATE fields (see Options.Caller) and gives each response the
// Cache-Control its cached fields allow, unless next set one itself.
func (e *Extension) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &cacheControlWriter{ResponseWriter: w}
		ctx := context.WithValue(r.Context(), writerKey{}, cw)
		if caller := e.opts.Caller(r); caller != "" {
			ctx = cache.WithCaller(ctx, caller)
		}
		next.ServeHTTP(cw, r.WithContext(ctx))
	})
}

type writerKey struct{}

func writerFrom(ctx context.Context) *cacheControlWriter {
	w, _ := ctx.Value(writerKey{}).(*cacheControlWriter)
	return w
}

// cacheControlWriter sets Cache-Control as the response starts, from what
// the response's operation decided before gqlgen writes it.
type cacheControlWriter struct {
	http.ResponseWriter
	mu      sync.Mutex
	value   string
	started bool
}

func (w *cacheControlWriter) set(v string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.value = v
}

func (w *cacheControlWriter) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	if h := w.Header(); w.value != "" && h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", w.value)
	}
}

func (w *cacheControlWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *cacheControlWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w *cacheControlWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
