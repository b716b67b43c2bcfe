package cache

import (
	"context"
	"sync"
)

// A Batch holds entries read together ahead of the Gets that answer them,
// so that the cached fields of a list's items cost one store round trip in
// all rather than one each. It belongs to one request: what it read is not
// re-read, so it must not outlive the request that made it. It is safe for
// concurrent use.
type Batch struct {
	mu   sync.Mutex
	read map[string]lookup
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{read: map[string]lookup{}} }

type batchKey struct{}

// WithBatch returns a context whose Gets look in b before the store.
func WithBatch(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

func batchFrom(ctx context.Context) *Batch {
	b, _ := ctx.Value(batchKey{}).(*Batch)
	return b
}

func (b *Batch) get(key string) (lookup, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.read[key]
	return l, ok
}

// Prefetch reads into b, in one Store.GetMany, the entries of qs that
// neither the near cache nor b already holds, under a store budget of its
// own. Queries Get would not look up (no TTL, private with no caller, a
// revalidating request) are left out, as are keys that cannot be derived:
// their Gets then do what they would have done without the batch. A store
// that fails or is slow leaves b as it was.
func (c *Cache) Prefetch(ctx context.Context, b *Batch, qs []Query) {
	if revalidateFrom(ctx) {
		return
	}
	caller := callerFrom(ctx)
	now := c.opts.Now()
	keys := make([]string, 0, len(qs))
	b.mu.Lock()
	for _, q := range qs {
		if q.Policy.TTL <= 0 || (q.Policy.Scope == ScopePrivate && caller == "") {
			continue
		}
		key, err := c.key(q, caller)
		if err != nil {
			continue
		}
		if _, ok := b.read[key]; ok {
			continue
		}
		if c.near != nil {
			if _, ok := c.near.get(key, now); ok {
				continue
			}
		}
		keys = append(keys, key)
	}
	b.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	bud := c.newBudget()
	values, err := guard(ctx, c, &bud, "get_many", func(ctx context.Context) ([][]byte, error) {
		return c.store.GetMany(ctx, keys)
	})
	if err != nil {
		return
	}
	c.m.prefetched.Add(float64(len(keys)))
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, k := range keys {
		b.read[k] = c.decode(values[i])
	}
}
