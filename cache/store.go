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
// use, and every value they write must expire after its ttl. A Store that is
// also a TagIndex supports tags, and one that is also a Broadcaster supports
// the near cache: a wrapper around a store must forward those interfaces
// too, or the cache goes without them.
//
// Beside each key a store keeps the key's fill lease: a short claim that one
// process is fetching the key's answer from the origin, so that processes
// sharing the store wait for it instead of fetching too.
type Store interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany returns the values under keys, in order, nil for a key that
	// holds nothing, in as few round trips as the store can make (one per
	// node for Redis), so that a list's cached fields cost one read.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// Claim reads key's value (nil when absent) and, in the same atomic
	// step, takes key's lease for leaseTTL with token if no one holds it,
	// or if a token of the same owner does. A token "<owner>.<nonce>"
	// names its owner, a process whose own coalescing already makes one
	// fill per key: a lease it holds when it claims again was left behind
	// by a fill that could not free it (the store failed, or the fill's
	// store budget was spent), and it must not wait for it. Reading and
	// claiming together closes the gap in which another process could
	// store the answer and free the lease unseen.
	Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (Claim, error)
	// Fill writes value under key with ttl only if the key's value still
	// starts with stamp (an empty stamp: the key holds nothing), and reports
	// whether it wrote. It is how a fill that raced with an invalidation or
	// with another fill loses instead of overwriting. In the same step it
	// frees key's lease if token (when not empty) still holds it.
	Fill(ctx context.Context, key string, stamp, value []byte, ttl time.Duration, token string) (bool, error)
	// Release frees key's lease if token still holds it.
	Release(ctx context.Context, key, token string) error
	// Replace writes value under key with ttl unconditionally and reports
	// whether the key held a value before.
	Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	// Describe names the store and where it is, for logs and readiness.
	Describe() string
}

// A TagIndex is the part of a Store that purges by tag: an index from each
// tag to the keys whose entries carry it, and the batch writes a purge makes.
// Without one, answers keep no tags and InvalidateTags fails with
// ErrNoTagIndex.
type TagIndex interface {
	// Tag adds key, whose entry lives until until, to the index of each of
	// tagKeys (see tagKey), dropping members that expired before now, and
	// keeps each index at least as long as its members. It returns the
	// latest purge instant marked on any of them (the zero Time if none).
	// A fill tags its key after fetching and writes only if no purge came
	// after it began: see Cache.InvalidateTags for why that is race-free.
	Tag(ctx context.Context, key string, tagKeys []string, until, now time.Time) (time.Time, error)
	// Purge marks at as the purge instant of each of tagKeys, kept for life,
	// then returns the keys indexed under them whose entries live past at.
	// Its cost grows with those keys only.
	Purge(ctx context.Context, tagKeys []string, at time.Time, life time.Duration) ([]string, error)
	// ReplaceAll does what Replace does to each of keys and reports how
	// many held a value.
	ReplaceAll(ctx context.Context, keys []string, value []byte, ttl time.Duration) (int, error)
	// Soften ends the freshness of each of keys' entries at at, under a new
	// nonce, keeping its stale window and expiry (see softened), and
	// reports how many it changed. Entries already stale are left alone.
	Soften(ctx context.Context, keys []string, nonce uint64, at time.Time) (int, error)
}

// Claim is what Store.Claim found.
type Claim struct {
	Value  []byte // nil when the key holds nothing
	Leased bool   // the caller now holds the key's lease
}

// A Broadcaster is a Store shared by several processes that announces every
// Fill that writes and every Replace, ReplaceAll and Soften, key by key, to all of them, on the channel
// "<prefix>:v2:changes" of the key "<prefix>:v2:{<hash>}", with the key and
// the nonce of the value written. The cache uses it to keep near caches
// honest.
type Broadcaster interface {
	// Changes calls changed for each announcement on channel, and reset
	// whenever announcements may have been missed (at every subscription,
	// including after a reconnection), until ctx ends.
	Changes(ctx context.Context, channel string, changed func(key string, nonce uint64), reset func())
}
