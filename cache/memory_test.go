package cache

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMemoryStoreStaysWithinItsBytes(t *testing.T) {
	const max = 1 << 20
	m, err := NewMemoryStore(max)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	value := make([]byte, 10<<10)
	for i := range 1000 { // ten times the bound
		if _, err := m.Replace(context.Background(), fmt.Sprintf("k%d", i), value, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	m.c.CleanUp()
	if got := m.c.WeightedSize(); got > max {
		t.Errorf("after 10 MiB of writes the store holds %d bytes; want at most %d", got, max)
	}
	if _, err := NewMemoryStore(0); err == nil {
		t.Error("NewMemoryStore(0): got nil error; want one")
	}
}

// liveHeap is the heap that survives a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The bound is the heap the store holds: flooded with distinct keys until
// it has been filled four times over, the store's live heap sits just below
// its bound, for small entries (where otter's node and the allocator's
// rounding cost more than the bytes) as for large ones.
func TestMemoryStoreWeighsWhatAnEntryCosts(t *testing.T) {
	const bound = 4 << 20
	for _, tc := range []struct{ key, value int }{
		{10, 1},
		{75, 100}, // a derived key and a short answer: the service's usual entry
		{75, 300},
		{200, 60},
		{75, 1000},
		{75, 5000},
		{75, 40000},
	} {
		t.Run(fmt.Sprintf("key %d value %d", tc.key, tc.value), func(t *testing.T) {
			before := liveHeap()
			m, err := NewMemoryStore(bound)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			prefix := strings.Repeat("k", tc.key-8)
			for i := 0; i < 4*bound/int(entryCost(tc.key, tc.value, 48)); i++ {
				key := fmt.Sprintf("%s%08d", prefix, i)
				if _, err := m.Replace(context.Background(), key, make([]byte, tc.value), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			m.c.CleanUp()
			got := float64(liveHeap()-before) / bound
			runtime.KeepAlive(m)
			t.Logf("live heap %.3f times the bound", got)
			if got < 0.85 || got > 1.02 {
				t.Errorf("after filling a %d MiB store four times over, it holds %.2f times its bound of live heap; want 0.85 to 1.02", bound>>20, got)
			}
		})
	}
}

// The near cache's bound is the heap its copies hold too: a copy keeps the
// whole entry as read, header included, beside its decoded instants.
func TestNearCacheWeighsWhatAnEntryCosts(t *testing.T) {
	const bound = 4 << 20
	for _, size := range []int{60, 1000, 20000} {
		t.Run(fmt.Sprintf("data %d", size), func(t *testing.T) {
			before := liveHeap()
			n, err := newNear(time.Hour, bound)
			if err != nil {
				t.Fatal(err)
			}
			defer n.close()
			now := time.Now()
			for i := 0; i < 4*bound/int(entryCost(75, headerLen+size, 160)); i++ {
				e, err := decodeEntry(newEntry(kindData, make([]byte, size), "", now, time.Hour, 0).encode())
				if err != nil {
					t.Fatal(err)
				}
				n.put(fmt.Sprintf("gqlcache:1:%064d", i), e, now)
			}
			n.c.CleanUp()
			got := float64(liveHeap()-before) / bound
			runtime.KeepAlive(n)
			t.Logf("live heap %.3f times the bound", got)
			if got < 0.85 || got > 1.02 {
				t.Errorf("after filling a %d MiB near cache four times over, it holds %.2f times its bound of live heap; want 0.85 to 1.02", bound>>20, got)
			}
		})
	}
}
