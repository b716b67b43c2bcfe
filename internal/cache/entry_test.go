package cache

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 123_456_789, time.UTC)
	e := newEntry(kindData, []byte(`{"a":1}`), at, 5*time.Second, 10*time.Second)
	got, err := decodeEntry(e.encode())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if want := at.Truncate(time.Millisecond); !got.cachedAt.Equal(want) {
		t.Errorf("cachedAt = %v; want %v", got.cachedAt, want)
	}
	if want := at.Truncate(time.Millisecond).Add(5 * time.Second); !got.freshUntil.Equal(want) {
		t.Errorf("freshUntil = %v; want %v", got.freshUntil, want)
	}
	if want := at.Truncate(time.Millisecond).Add(15 * time.Second); !got.staleUntil.Equal(want) {
		t.Errorf("staleUntil = %v; want %v", got.staleUntil, want)
	}
	if string(got.data) != `{"a":1}` || got.nonce != e.nonce || got.kind != kindData {
		t.Errorf("got %+v; want the entry written", got)
	}
}

func TestDecodeEntryRefusesDamage(t *testing.T) {
	good := newEntry(kindData, []byte(`"hello"`), time.Now(), time.Second, 0).encode()
	damage := map[string]func([]byte) []byte{
		"empty":          func([]byte) []byte { return nil },
		"foreign":        func([]byte) []byte { return []byte("Hello, this is fresh data") },
		"truncated":      func(b []byte) []byte { return b[:headerLen-1] },
		"no data":        func(b []byte) []byte { return b[:headerLen] },
		"other version":  func(b []byte) []byte { b[2] = 2; return b },
		"unknown kind":   func(b []byte) []byte { b[3] = 'x'; return b },
		"flipped data":   func(b []byte) []byte { b[len(b)-2] ^= 1; return b },
		"extra data":     func(b []byte) []byte { return append(b, ' ') },
		"fresh < cached": func(b []byte) []byte { clear(b[20:28]); return b },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeEntry(f(bytes.Clone(good))); !errors.Is(err, errCorrupt) {
				t.Errorf("got %v; want errCorrupt", err)
			}
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(newEntry(kindData, []byte(`"x"`), time.Now(), time.Second, time.Second).encode())
	f.Add(newEntry(kindTombstone, nil, time.Now(), 0, 0).encode())
	f.Add([]byte("gq\x01d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		// Whatever decodes must be exactly what an encode of it writes: no
		// foreign value can pass for an entry with other contents.
		if again := e.encode(); !bytes.Equal(again, b) {
			t.Errorf("decoded %x but re-encoded %x", b, again)
		}
	})
}
