package cache

import (
	"context"
	"errors"
	"time"
)

// Source says where an answer came from.
type Source uint8

// The sources of an answer.
const (
	SourceCache  Source = iota + 1 // the store
	SourceOrigin                   // the origin, during this request
)

// Scope says who may share a cached answer.
type Scope uint8

// The scopes.
const (
	ScopePublic  Scope = iota // one entry for every caller
	ScopePrivate              // one entry per caller; no caller, no caching
)

// Policy is how one field is cached.
type Policy struct {
	// TTL is how long an answer stays fresh. Zero or less: never stored.
	TTL   time.Duration
	Scope Scope
}

// Query names one cacheable answer: a field's schema coordinate (such as
// "Query.data"), its arguments after coercion, and the field's policy.
// Equal fields and arguments share one entry, whichever door they came in by.
type Query struct {
	Field  string
	Args   map[string]any
	Policy Policy
}

// Fetched is what a Loader got from the origin: the answer and what the
// origin said about keeping it.
type Fetched struct {
	// Data is one JSON value, stored and served unchanged.
	Data []byte
	// MaxAge, when positive, caps how long the answer stays fresh (an HTTP
	// upstream's Cache-Control: max-age, say). It can only shorten the
	// field's TTL. Zero: the field's TTL.
	MaxAge time.Duration
	// NoStore forbids storing the answer: it is served to the requests
	// that asked for it, and the next miss asks the origin again.
	NoStore bool
	// NotFound says the origin has no such item (an HTTP upstream's 404 or
	// 410): Data is ignored, and Get returns ErrOriginNotFound, from a
	// negative entry kept for at most Options.NegativeTTL.
	NotFound bool
	// Tags name what the answer was made from, so that InvalidateTags can
	// purge it when any of them changes. At most MaxTags are kept, each a
	// valid tag (see ValidateTag); the rest are dropped.
	Tags []string
}

// Loader fetches fresh data from the origin on a miss.
type Loader func(ctx context.Context) (Fetched, error)

// Errors a Get returns when the origin cannot answer and no stale copy
// exists. The origin's own error is wrapped beneath them.
var (
	ErrOriginUnavailable = errors.New("origin unavailable")
	ErrOriginTimeout     = errors.New("origin timed out")
)

// ErrStoreUnavailable is returned by Invalidate when the store cannot be
// reached: unlike a read, a lost invalidation cannot fail open.
var ErrStoreUnavailable = errors.New("cache store unavailable")
