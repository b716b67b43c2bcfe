package cache

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store when a key holds nothing. It is the only
// miss signal: callers never need a store's own client library to detect one.
var ErrNotFound = errors.New("cache: not found")

// A Store keeps encoded entries. Implementations must be safe for concurrent
// use, and every value they write must expire after its ttl.
type Store interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// CompareAndSet writes value under key with ttl only if the key's value
	// still starts with stamp (an empty stamp means the key holds nothing),
	// and reports whether it wrote. It is how a fill that raced with an
	// invalidation or with another fill loses instead of overwriting.
	CompareAndSet(ctx context.Context, key string, stamp, value []byte, ttl time.Duration) (bool, error)
	// Replace writes value under key with ttl unconditionally and reports
	// whether the key held a value before.
	Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Lease takes the lease named key for ttl if no one holds it, storing
	// token, and reports whether it did. Release gives it back only if it
	// still holds token.
	Lease(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key, token string) error
	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	// Describe names the store and where it is, for logs and readiness.
	Describe() string
}
