package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/redistest"
)

func TestPersistedQueriesAreSharedThroughRedis(t *testing.T) {
	url, prefix := redistest.Shared(t)
	a := newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), cache.Options{Prefix: prefix})
	b := newCacheOn(t, cache.NewRedisStore(redisClient(t, url), "test"), cache.Options{Prefix: prefix})
	ctx := context.Background()
	query := `{ data(query: "x") { source } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])

	if _, ok := b.c.PersistedQueries(time.Minute).Get(ctx, hash); ok {
		t.Fatal("Get before any Add: found; want a miss")
	}
	a.c.PersistedQueries(time.Minute).Add(ctx, hash, query)
	if got, ok := b.c.PersistedQueries(time.Minute).Get(ctx, hash); !ok || got != query {
		t.Errorf("another process's Get: got %q, %v; want the query", got, ok)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("Z", 64), hash + "0", "../" + hash[3:]} {
		a.c.PersistedQueries(time.Minute).Add(ctx, bad, query)
		if _, ok := a.c.PersistedQueries(time.Minute).Get(ctx, bad); ok {
			t.Errorf("hash %q: found; want anything but a hex SHA-256 refused", bad)
		}
	}
}
