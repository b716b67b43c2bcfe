package cache

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The defaults New gives the Options fields left zero. A service that reads
// its own configuration starts from these, so that no default is spelled
// in two places.
const (
	DefaultPrefix                       = "gqlcache"
	DefaultOriginTimeout                = 10 * time.Second
	DefaultStoreBudget                  = 100 * time.Millisecond
	DefaultNearBytes                    = 16 << 20
	DefaultMaxEntryBytes                = 1 << 20
	DefaultNegativeTTL                  = time.Second
	DefaultOriginMaxInflight            = 16
	DefaultOriginQueueWait              = 100 * time.Millisecond
	DefaultOriginBreakerFailures uint32 = 5
	DefaultOriginBreakerCooldown        = 5 * time.Second
)

// Options configures a Cache. The zero value of every field is usable.
type Options struct {
	// Prefix starts every key; several deployments may share one Redis under
	// different prefixes. Default "gqlcache". See ValidatePrefix.
	Prefix string
	// Stale is how long past its freshness an entry is still served, while
	// one background refresh runs or when the origin fails. Zero: never.
	Stale time.Duration
	// OriginTimeout bounds one origin call. Default 10s.
	OriginTimeout time.Duration
	// LeaseTTL is how long one process may hold a key's fill lease, so that
	// processes sharing a store wait for its answer instead of calling the
	// origin too. It bounds their wait when the holder dies. Default
	// OriginTimeout.
	LeaseTTL time.Duration
	// LeasePoll is how often a process waiting on another's lease looks for
	// the answer. Default 20ms.
	LeasePoll time.Duration
	// StoreBudget is how long one request may wait for the store in all:
	// its read, and the claim and write of a fill it leads, retries
	// included. A request whose budget is spent goes on without the store
	// (a miss, an answer not stored). A background refresh, an
	// invalidation and each persisted-query lookup get a budget of their
	// own. Default 100ms.
	StoreBudget time.Duration
	// SlowCall is how long a store call may take before it counts as a
	// failure to the circuit breaker, even though it answered, so that a
	// store that is slow but alive is bypassed like a dead one. Default
	// half of StoreBudget.
	SlowCall time.Duration
	// BreakerFailures is how many consecutive store errors (timeouts
	// included) open the circuit breaker, after which the store is bypassed
	// (every lookup a miss) until a probe answers within SlowCall. Slow
	// calls open it too, once they and errors are half of at least 20 calls
	// within a BreakerCooldown: a store slow on every call, not a moment's
	// stall of the machine. Default 3.
	BreakerFailures uint32
	// BreakerCooldown is how long the breaker stays open before it lets one
	// probe through. Default 1s.
	BreakerCooldown time.Duration
	// NearTTL turns on the near cache when the store is shared (a
	// Broadcaster, such as Redis): hot entries are also held in process for
	// at most NearTTL, never past their freshness, so a hit skips the
	// network. Other processes' writes and invalidations drop the copies as
	// they are announced. Zero: off.
	NearTTL time.Duration
	// NearBytes bounds the near cache. Default 16 MiB.
	NearBytes int64
	// MaxEntryBytes bounds what is stored: a larger answer is served to the
	// requests that asked but never stored. Default 1 MiB.
	MaxEntryBytes int
	// NegativeTTL is how long an origin's not-found answer is kept, never
	// longer than the field's TTL nor the origin's own max-age. Default 1s.
	NegativeTTL time.Duration
	// OriginMaxInflight bounds the origin calls this process makes at
	// once; hits and requests that join a fill in flight never take a slot.
	// Default 16.
	OriginMaxInflight int
	// OriginQueueWait is how long a miss waits for a free slot before it is
	// served a stale copy or refused with ErrOriginBusy. Default 100ms.
	OriginQueueWait time.Duration
	// OriginBreakerFailures is how many consecutive failed origin calls
	// (errors and timeouts, never not-found answers) open the origin's
	// circuit breaker: misses are then refused at once, or served stale,
	// until one probe succeeds. Default 5.
	OriginBreakerFailures uint32
	// OriginBreakerCooldown is how long the origin's breaker stays open
	// before it lets one probe through. Default 5s.
	OriginBreakerCooldown time.Duration
	// Registerer receives the cache's metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Logger receives store outages and recoveries. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// withDefaults fills the fields left zero, and refuses what no default can
// mend.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := ValidatePrefix(o.Prefix); err != nil {
		return o, err
	}
	if o.Stale < 0 {
		return o, errors.New("stale window must not be negative")
	}
	if o.OriginTimeout <= 0 {
		o.OriginTimeout = DefaultOriginTimeout
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = o.OriginTimeout
	}
	if o.LeasePoll <= 0 {
		o.LeasePoll = 20 * time.Millisecond
	}
	if o.StoreBudget <= 0 {
		o.StoreBudget = DefaultStoreBudget
	}
	if o.SlowCall <= 0 {
		o.SlowCall = o.StoreBudget / 2
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 3
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = time.Second
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NearBytes <= 0 {
		o.NearBytes = DefaultNearBytes
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.OriginMaxInflight <= 0 {
		o.OriginMaxInflight = DefaultOriginMaxInflight
	}
	if o.OriginQueueWait <= 0 {
		o.OriginQueueWait = DefaultOriginQueueWait
	}
	if o.OriginBreakerFailures == 0 {
		o.OriginBreakerFailures = DefaultOriginBreakerFailures
	}
	if o.OriginBreakerCooldown <= 0 {
		o.OriginBreakerCooldown = DefaultOriginBreakerCooldown
	}
	return o, nil
}
