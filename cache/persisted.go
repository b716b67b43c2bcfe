package cache

import (
	"context"
	"time"
)

// PersistedQueries keeps automatic persisted queries (a query's text by its
// SHA-256) in the cache's store, so that once any process sharing a Redis
// has seen a query, every process answers its hash. It implements gqlgen's
// graphql.Cache[string]. A failing store only means the client is asked for
// the full query again, as the APQ protocol provides.
type PersistedQueries struct {
	c   *Cache
	ttl time.Duration
}

// PersistedQueries returns the persisted-query store, keeping each query for
// ttl after it was last sent in full.
func (c *Cache) PersistedQueries(ttl time.Duration) *PersistedQueries {
	return &PersistedQueries{c: c, ttl: ttl}
}

// key has no hash tag: nothing lives beside it, and no near cache wants to
// hear of it.
func (p *PersistedQueries) key(hash string) string {
	return p.c.opts.Prefix + ":" + keyVersion + ":apq:" + hash
}

// validHash reports whether hash can be a hex SHA-256, the only kind a
// client may name; anything else is a miss and never becomes a key.
func validHash(hash string) bool {
	if len(hash) != 64 {
		return false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Get returns the query persisted under hash.
func (p *PersistedQueries) Get(ctx context.Context, hash string) (string, bool) {
	if !validHash(hash) {
		return "", false
	}
	b := p.c.newBudget()
	v, err := guard(ctx, p.c, &b, "apq_get", func(ctx context.Context) ([]byte, error) { return p.c.store.Get(ctx, p.key(hash)) })
	if err != nil {
		return "", false
	}
	return string(v), true
}

// Add persists query under hash. gqlgen calls it only after checking that
// hash is the query's SHA-256.
func (p *PersistedQueries) Add(ctx context.Context, hash, query string) {
	if !validHash(hash) {
		return
	}
	b := p.c.newBudget()
	_, _ = guard(ctx, p.c, &b, "apq_add", func(ctx context.Context) (bool, error) {
		return p.c.store.Replace(ctx, p.key(hash), []byte(query), p.ttl)
	})
}
