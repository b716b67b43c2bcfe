package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
)

// MemoryStore is the embedded, in-process Store: bounded in bytes and
// honouring each entry's ttl.
type MemoryStore struct {
	c    *otter.Cache[string, memoryValue]
	max  int64
	tags *memTags
}

type memoryValue struct {
	b   []byte
	ttl time.Duration
}

// otterNodeHeader is the size of otter's per-entry node before its key and
// value (links for the eviction and expiry queues, the expiry instant, the
// weight and state words: 56 bytes on 64-bit platforms), and
// otterTableSlot what its hash table spends per entry at its average load.
// TestMemoryStoreWeighsWhatAnEntryCosts holds both to measured heap use.
const (
	otterNodeHeader = 56
	otterTableSlot  = 48
)

// entryCost is what an entry holding a key of keyLen bytes and a value of
// valueLen bytes costs the Go heap, where an otter node's key and value
// fields together take fieldsSize bytes: the key's and the value's
// allocations, the node's and its table slot. Counting this rather than the
// bytes alone is what lets a bound in bytes mean the heap the store holds,
// whatever the mix of small and large entries: a small entry costs twice
// its bytes.
func entryCost(keyLen, valueLen int, fieldsSize uintptr) uint32 {
	n := allocSize(keyLen) + allocSize(valueLen) + allocSize(otterNodeHeader+int(fieldsSize)) + otterTableSlot
	return uint32(min(n, math.MaxUint32))
}

// allocSize is n rounded up as Go's allocator rounds an object of n bytes:
// to the next of its size classes, or to whole 8 KiB pages above 32 KiB.
func allocSize(n int) int {
	if n > 32<<10 {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	i, _ := slices.BinarySearch(sizeClasses[:], uint16(n))
	return int(sizeClasses[i])
}

// sizeClasses are the Go runtime's small-object size classes (its
// internal/runtime/gc.SizeClassToSize, unchanged since Go 1.21).
var sizeClasses = [...]uint16{0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store whose entries take at most maxBytes of
// the heap: keys, values and the store's own per-entry bookkeeping. When
// full it evicts those least likely to be used again (otter's W-TinyLFU).
// A bound in bytes rather than entries is what keeps a flood of large
// answers from exhausting the process.
func NewMemoryStore(maxBytes int64) (*MemoryStore, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("memory store: size bound must be positive, got %d", maxBytes)
	}
	c, err := otter.New(&otter.Options[string, memoryValue]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(key string, v memoryValue) uint32 {
			return entryCost(len(key), len(v.b), unsafe.Sizeof(key)+unsafe.Sizeof(v))
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

// GetMany implements Store.
func (m *MemoryStore) GetMany(_ context.Context, keys []string) ([][]byte, error) {
	values := make([][]byte, len(keys))
	for i, k := range keys {
		if v, ok := m.c.GetIfPresent(k); ok {
			values[i] = v.b
		}
	}
	return values, nil
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
