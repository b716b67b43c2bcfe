package cache

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 123_456_789, time.UTC)
	e := newEntry(kindData, []byte(`{"a":1}`), "", at, 5*time.Second, 10*time.Second)
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
	if string(got.data) != `{"a":1}` || got.nonce != e.nonce || got.kind != kindData || got.tags != "" {
		t.Errorf("got %+v; want the entry written", got)
	}
}

func TestEntryTagsRoundTrip(t *testing.T) {
	e := newEntry(kindData, []byte(`[1]`), "weather,city:paris", time.Now(), time.Second, time.Second)
	got, err := decodeEntry(e.encode())
	if err != nil || got.tags != "weather,city:paris" || string(got.data) != "[1]" {
		t.Errorf("got %q, %q, %v; want the tags and data written", got.tags, got.data, err)
	}
}

func TestSoftened(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	fresh := newEntry(kindData, []byte(`1`), "a", at, time.Minute, time.Minute).encode()
	tomb := newEntry(kindTombstone, nil, "", at, 0, 0).encode()
	cases := []struct {
		name string
		v    []byte
		now  time.Time
		ok   bool
	}{
		{"fresh entry", fresh, at.Add(time.Second), true},
		{"already stale", fresh, at.Add(90 * time.Second), false},
		{"tombstone", tomb, at, false},
		{"foreign", []byte("hello"), at, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok := softened(c.v, 42, c.now)
			if ok != c.ok {
				t.Fatalf("got ok %v; want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			e, err := decodeEntry(v)
			if err != nil || e.nonce != 42 || !e.freshUntil.Equal(c.now) || !e.staleUntil.Equal(at.Add(2*time.Minute)) || e.tags != "a" {
				t.Errorf("got %+v, %v; want nonce 42, fresh until %v, stale until and tags kept", e, err, c.now)
			}
		})
	}
}

func TestDecodeEntryRefusesDamage(t *testing.T) {
	good := newEntry(kindData, []byte(`"hello"`), "", time.Now(), time.Second, 0).encode()
	damage := map[string]func([]byte) []byte{
		"empty":          func([]byte) []byte { return nil },
		"foreign":        func([]byte) []byte { return []byte("Hello, this is fresh data") },
		"truncated":      func(b []byte) []byte { return b[:headerLen-1] },
		"no data":        func(b []byte) []byte { return b[:headerLen] },
		"other version":  func(b []byte) []byte { b[2] = 1; return b },
		"unknown kind":   func(b []byte) []byte { b[3] = 'x'; return b },
		"flipped data":   func(b []byte) []byte { b[len(b)-2] ^= 1; return b },
		"extra data":     func(b []byte) []byte { return append(b, ' ') },
		"fresh < cached": func(b []byte) []byte { clear(b[20:28]); return b },
	}
	// Tags reach HTTP headers: a value whose checksum matches but whose tags
	// no origin could have given must not decode either.
	badTags := map[string]string{
		"tag with a newline": "a\nb", "tag with a space": "a b", "empty tag": "a,,b",
		"too long a tag": strings.Repeat("x", MaxTagBytes+1), "too many tags": strings.Repeat("t,", MaxTags) + "t",
	}
	for name, tags := range badTags {
		damage[name] = func([]byte) []byte {
			return newEntry(kindData, []byte(`"hello"`), tags, time.Now(), time.Second, 0).encode()
		}
	}
	damage["tags longer than the value"] = func(b []byte) []byte { b[40] = 0xff; return b }
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeEntry(f(bytes.Clone(good))); !errors.Is(err, errCorrupt) {
				t.Errorf("got %v; want errCorrupt", err)
			}
		})
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(newEntry(kindData, []byte(`"x"`), "", time.Now(), time.Second, time.Second).encode())
	f.Add(newEntry(kindTombstone, nil, "", time.Now(), 0, 0).encode())
	f.Add([]byte("gq\x02d"))
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
