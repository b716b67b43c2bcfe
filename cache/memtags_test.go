package cache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestMemoryTagIndexIsBounded: the memory store's tag index holds at most
// its bound of key-tag pairs; past it a fill is refused (so no purge can
// miss it), and pairs whose entries ended make room again.
func TestMemoryTagIndexIsBounded(t *testing.T) {
	s, err := NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	tags := []string{tagKey("p", "weather")}
	bound := s.tags.max
	if bound != 1024 {
		t.Fatalf("bound of a 1 MiB store: got %d pairs; want 1024 (the floor)", bound)
	}
	for i := range bound {
		if _, err := s.Tag(ctx, fmt.Sprint("k", i), tags, now.Add(time.Second), now); err != nil {
			t.Fatalf("pair %d of %d: %v", i+1, bound, err)
		}
	}
	if _, err := s.Tag(ctx, "one-more", tags, now.Add(time.Second), now); !errors.Is(err, errTagIndexFull) {
		t.Fatalf("pair past the bound: got %v; want errTagIndexFull", err)
	}
	later := now.Add(2 * time.Second) // every entry indexed so far has ended
	if _, err := s.Tag(ctx, "one-more", tags, later.Add(time.Second), later); err != nil {
		t.Errorf("after the indexed entries ended: got %v; want room again", err)
	}
	if got := s.tags.pairs; got != 1 {
		t.Errorf("pairs after the sweep: got %d; want 1", got)
	}
}
