package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
)

// MemoryStore is the embedded, in-process Store: bounded in bytes and
// honouring each entry's ttl.
type MemoryStore struct {
	c    *otter.Cache[string, memoryValue]
	max  int64
	tags *memTags
}

// memoryOverhead approximates what otter and the Go runtime spend on one
// entry beside its key and value bytes.
const memoryOverhead = 128

type memoryValue struct {
	b   []byte
	ttl time.Duration
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store holding at most maxBytes of keys and
// values; when full it evicts those least likely to be used again (otter's
// W-TinyLFU). A bound in bytes rather than entries is what keeps a flood of
// large answers from exhausting the process.
func NewMemoryStore(maxBytes int64) (*MemoryStore, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("memory store: size bound must be positive, got %d", maxBytes)
	}
	c, err := otter.New(&otter.Options[string, memoryValue]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(key string, v memoryValue) uint32 {
			return uint32(min(len(key)+len(v.b)+memoryOverhead, math.MaxUint32))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, memoryValue]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("memory store: %w", err)
	}
	return &MemoryStore{c: c, max: maxBytes, tags: newMemTags(maxBytes)}, nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	v, ok := m.c.GetIfPresent(key)
	if !ok {
		return nil, ErrNotFound
	}
	return v.b, nil
}

// Claim implements Store. One process is the only user of a memory store,
// and its own coalescing already makes one fill per key, so the lease is
// always granted.
func (m *MemoryStore) Claim(ctx context.Context, key, _ string, _ time.Duration) (Claim, error) {
	v, err := m.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return Claim{Value: v, Leased: true}, err
}

// Fill implements Store.
func (m *MemoryStore) Fill(_ context.Context, key string, stamp, value []byte, ttl time.Duration, _ string) (bool, error) {
	wrote := false
	m.c.Compute(key, func(old memoryValue, found bool) (memoryValue, otter.ComputeOp) {
		var cur []byte
		if found {
			cur = stampOf(old.b)
		}
		if !bytes.Equal(cur, stamp) {
			return old, otter.CancelOp
		}
		wrote = true
		return memoryValue{b: value, ttl: ttl}, otter.WriteOp
	})
	return wrote, nil
}

// Replace implements Store.
func (m *MemoryStore) Replace(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	_, inserted := m.c.Set(key, memoryValue{b: value, ttl: ttl})
	return !inserted, nil
}

// Release implements Store.
func (m *MemoryStore) Release(context.Context, string, string) error { return nil }

// Ping implements Store.
func (m *MemoryStore) Ping(context.Context) error { return nil }

// Close stops the store's background maintenance.
func (m *MemoryStore) Close() error {
	m.c.StopAllGoroutines()
	return nil
}

// Describe implements Store.
func (m *MemoryStore) Describe() string {
	return fmt.Sprintf("memory (in-process, at most %d MiB)", m.max>>20)
}
