package cache

import (
	"context"
	"fmt"
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
