package cache

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
)

// near is the near cache: decoded copies of entries read from a shared
// store, held in process so that a hot key's hit costs no network round trip.
// A copy is held at most the near TTL and never past its freshness, and is
// dropped when another process announces a newer write or an invalidation,
// so freshness figures stay exact and an invalidation reaches every process
// within the broadcast's delay, or the near TTL if a broadcast is lost.
type near struct {
	c   *otter.Cache[string, nearValue]
	ttl time.Duration
}

type nearValue struct {
	e    entry
	hold time.Duration
}

func newNear(ttl time.Duration, maxBytes int64) (*near, error) {
	c, err := otter.New(&otter.Options[string, nearValue]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(key string, v nearValue) uint32 {
			// The copy's tags and data are slices of the whole entry as
			// read, header included.
			return entryCost(len(key), headerLen+len(v.e.tags)+len(v.e.data), unsafe.Sizeof(key)+unsafe.Sizeof(v))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, nearValue]) time.Duration {
			return e.Value.hold
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("near cache: %w", err)
	}
	return &near{c: c, ttl: ttl}, nil
}

// get returns key's copy if it is still fresh at now.
func (n *near) get(key string, now time.Time) (entry, bool) {
	v, ok := n.c.GetIfPresent(key)
	if !ok || !now.Before(v.e.freshUntil) {
		return entry{}, false
	}
	return v.e, true
}

// put keeps a fresh entry for at most the near TTL.
func (n *near) put(key string, e entry, now time.Time) {
	if hold := min(n.ttl, e.freshUntil.Sub(now)); hold > 0 {
		n.c.Set(key, nearValue{e: e, hold: hold})
	}
}

// changed drops key's copy unless it is the write with this nonce: a
// process's own announcement leaves its copy in place.
func (n *near) changed(key string, nonce uint64) {
	n.c.Compute(key, func(v nearValue, found bool) (nearValue, otter.ComputeOp) {
		if found && v.e.nonce != nonce {
			return v, otter.InvalidateOp
		}
		return v, otter.CancelOp
	})
}

func (n *near) drop(key string) { n.c.Invalidate(key) }

// reset forgets every copy: after the announcements may have been missed.
func (n *near) reset() { n.c.InvalidateAll() }

func (n *near) close() { n.c.StopAllGoroutines() }
