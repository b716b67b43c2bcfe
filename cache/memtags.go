package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
)

// memTags is the memory store's tag index: for each tag, the keys of the
// entries carrying it with the instant each entry ends, and each tag's
// purge mark. Members are swept once their entries end, and the whole index
// holds at most max key-tag pairs: a fill that would go past it is refused
// (the answer is served but not stored) rather than left out of the index,
// which would let a purge miss it.
type memTags struct {
	mu        sync.Mutex
	sets      map[string]map[string]int64 // tag key -> entry key -> end (Unix ms)
	purged    map[string]purgeMark        // tag key -> its latest purge
	pairs     int
	max       int
	lastSweep time.Time
}

type purgeMark struct{ at, until time.Time }

// memTagPairBytes approximates what one key-tag pair costs the index (the
// key string and two map slots), from which the store's byte bound derives
// the pair bound.
const memTagPairBytes = 192

// errTagIndexFull refuses a fill the memory store's tag index has no room for.
var errTagIndexFull = errors.New("memory store: tag index full")

func newMemTags(maxBytes int64) *memTags {
	return &memTags{
		sets:   map[string]map[string]int64{},
		purged: map[string]purgeMark{},
		max:    int(max(1024, maxBytes/8/memTagPairBytes)),
	}
}

// sweep drops members and purge marks that ended before now. It runs at
// most once a second, when the index is full.
func (m *memTags) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < time.Second {
		return
	}
	m.lastSweep = now
	cut := now.UnixMilli()
	for t, set := range m.sets {
		for k, end := range set {
			if end < cut {
				delete(set, k)
				m.pairs--
			}
		}
		if len(set) == 0 {
			delete(m.sets, t)
		}
	}
	for t, p := range m.purged {
		if !p.until.After(now) {
			delete(m.purged, t)
		}
	}
}

// Tag implements Store.
func (s *MemoryStore) Tag(_ context.Context, key string, tagKeys []string, until, now time.Time) (time.Time, error) {
	m := s.tags
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pairs+len(tagKeys) > m.max {
		m.sweep(now)
		if m.pairs+len(tagKeys) > m.max {
			return time.Time{}, errTagIndexFull
		}
	}
	var latest time.Time
	for _, t := range tagKeys {
		set := m.sets[t]
		if set == nil {
			set = map[string]int64{}
			m.sets[t] = set
		}
		if _, ok := set[key]; !ok {
			m.pairs++
		}
		set[key] = max(set[key], until.UnixMilli())
		if p, ok := m.purged[t]; ok && p.until.After(now) && p.at.After(latest) {
			latest = p.at
		}
	}
	return latest, nil
}

// Purge implements Store.
func (s *MemoryStore) Purge(_ context.Context, tagKeys []string, at time.Time, life time.Duration) ([]string, error) {
	m := s.tags
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	seen := map[string]bool{}
	cut := at.UnixMilli()
	for _, t := range tagKeys {
		m.purged[t] = purgeMark{at: at, until: at.Add(life)}
		for k, end := range m.sets[t] {
			if end >= cut && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// ReplaceAll implements Store.
func (s *MemoryStore) ReplaceAll(ctx context.Context, keys []string, value []byte, ttl time.Duration) (int, error) {
	n := 0
	for _, k := range keys {
		if existed, _ := s.Replace(ctx, k, value, ttl); existed {
			n++
		}
	}
	return n, nil
}

// Soften implements Store.
func (s *MemoryStore) Soften(_ context.Context, keys []string, nonce uint64, at time.Time) (int, error) {
	n := 0
	for _, k := range keys {
		s.c.Compute(k, func(old memoryValue, found bool) (memoryValue, otter.ComputeOp) {
			if !found {
				return old, otter.CancelOp
			}
			v, ok := softened(old.b, nonce, at)
			if !ok {
				return old, otter.CancelOp
			}
			n++
			// A write restarts the entry's expiry: keep the end it had.
			end := time.UnixMilli(int64(binary.BigEndian.Uint64(v[28:])))
			return memoryValue{b: v, ttl: end.Sub(at)}, otter.WriteOp
		})
	}
	return n, nil
}
