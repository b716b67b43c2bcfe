package resolvers

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gqlcache/gqlcache/cache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDataFieldTakesTheConfiguredPolicy: the shipped schema's data field
// carries a bare @cacheControl, so CACHE_TTL and CACHE_SCOPE decide how it
// is cached, and the REST shim's queries (built by the same extension)
// carry the same policy under the same coordinate.
func TestDataFieldTakesTheConfiguredPolicy(t *testing.T) {
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
	def := cache.Policy{TTL: 7 * time.Second, Scope: cache.ScopePrivate}
	ext, err := NewExtension(c, ExtensionOptions{Default: def})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Deps{Fields: ext}.DataQuery("weather:paris")
	if err != nil {
		t.Fatal(err)
	}
	if q.Field != DataField || q.Policy != def || len(q.Args) != 1 || q.Args["query"] != "weather:paris" {
		t.Errorf("DataQuery = %+v; want %s with the configured %+v and the query as its one argument", q, DataField, def)
	}
}
