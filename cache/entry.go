package cache

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"time"
	"unsafe"
)

// An entry is what one key holds: the origin's data and tags with the
// instants that decide its freshness, the origin's answer that it has no
// such item (a negative entry, without data, with tags), or a tombstone
// left by an invalidation.
//
// Layout, big-endian:
//
//	0  magic "gq"        2 bytes
//	2  format version    1 byte
//	3  kind              1 byte  (kindData, kindNotFound or kindTombstone)
//	4  nonce             8 bytes (unique per write)
//	12 cachedAt          8 bytes (Unix milliseconds)
//	20 freshUntil        8 bytes
//	28 staleUntil        8 bytes
//	36 CRC-32C of the rest 4 bytes
//	40 tags length       2 bytes
//	42 tags              the entry's tags joined by ',' (see Tags)
//	.. data              the origin's JSON, unchanged
//
// The first stampLen bytes identify one write: a conditional write compares
// them to decide whether the key still holds what the writer saw. A soft
// purge rewrites the nonce and freshUntil in place (see softened), which is
// why the checksum leaves the header out.
type entry struct {
	kind       byte
	nonce      uint64
	cachedAt   time.Time
	freshUntil time.Time
	staleUntil time.Time
	tags       string // joined by ','; "" for none
	data       []byte
}

const (
	formatVersion = 2
	headerLen     = 42
	stampLen      = 12

	kindData      byte = 'd'
	kindNotFound  byte = 'n'
	kindTombstone byte = 't'
)

var (
	errCorrupt = errors.New("cache: stored entry is corrupt or foreign")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

func newEntry(kind byte, data []byte, tags string, cachedAt time.Time, ttl, stale time.Duration) entry {
	cachedAt = cachedAt.Truncate(time.Millisecond)
	fresh := cachedAt.Add(ttl)
	return entry{
		kind:       kind,
		nonce:      rand.Uint64(),
		cachedAt:   cachedAt,
		freshUntil: fresh,
		staleUntil: fresh.Add(stale),
		tags:       tags,
		data:       data,
	}
}

func (e entry) encode() []byte {
	b := make([]byte, headerLen+len(e.tags)+len(e.data))
	b[0], b[1], b[2], b[3] = 'g', 'q', formatVersion, e.kind
	binary.BigEndian.PutUint64(b[4:], e.nonce)
	binary.BigEndian.PutUint64(b[12:], uint64(e.cachedAt.UnixMilli()))
	binary.BigEndian.PutUint64(b[20:], uint64(e.freshUntil.UnixMilli()))
	binary.BigEndian.PutUint64(b[28:], uint64(e.staleUntil.UnixMilli()))
	binary.BigEndian.PutUint16(b[40:], uint16(len(e.tags)))
	copy(b[headerLen:], e.tags)
	copy(b[headerLen+len(e.tags):], e.data)
	binary.BigEndian.PutUint32(b[36:], crc32.Checksum(b[40:], crcTable))
	return b
}

// decodeEntry parses b without copying its data or tags: b must not change
// while the entry is in use. Anything that is not an
// entry this version wrote, intact, is errCorrupt: a foreign or damaged value
// must read as a miss, never as an answer.
func decodeEntry(b []byte) (entry, error) {
	if len(b) < headerLen || b[0] != 'g' || b[1] != 'q' || b[2] != formatVersion {
		return entry{}, errCorrupt
	}
	n := int(binary.BigEndian.Uint16(b[40:]))
	if len(b) < headerLen+n || crc32.Checksum(b[40:], crcTable) != binary.BigEndian.Uint32(b[36:]) {
		return entry{}, errCorrupt
	}
	e := entry{
		kind:       b[3],
		nonce:      binary.BigEndian.Uint64(b[4:]),
		cachedAt:   time.UnixMilli(int64(binary.BigEndian.Uint64(b[12:]))),
		freshUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(b[20:]))),
		staleUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(b[28:]))),
		data:       b[headerLen+n:],
	}
	if n > 0 {
		// Shared with b, as data is, rather than copied: a hit must cost
		// tagged entries no more than untagged ones, and no store changes
		// a value once written (softened copies).
		e.tags = unsafe.String(&b[headerLen], n)
	}
	switch {
	case e.kind != kindData && e.kind != kindNotFound && e.kind != kindTombstone,
		e.kind == kindData && len(e.data) == 0,
		e.freshUntil.Before(e.cachedAt), e.staleUntil.Before(e.freshUntil),
		!validTagList(e.tags):
		return entry{}, errCorrupt
	}
	return e, nil
}

// softened returns a copy of the stored value v whose freshness ends at now,
// under a new nonce, if v is a data entry still fresh at now whose stale
// window outlasts now; otherwise ok is false and v is left as it is. The
// Redis store does the same in Lua (softenScript).
func softened(v []byte, nonce uint64, now time.Time) (_ []byte, ok bool) {
	if len(v) < headerLen || v[0] != 'g' || v[1] != 'q' || v[2] != formatVersion || v[3] != kindData {
		return v, false
	}
	at := uint64(now.UnixMilli())
	if binary.BigEndian.Uint64(v[20:]) <= at || binary.BigEndian.Uint64(v[28:]) <= at {
		return v, false
	}
	out := make([]byte, len(v))
	copy(out, v)
	binary.BigEndian.PutUint64(out[4:], nonce)
	binary.BigEndian.PutUint64(out[20:], max(at, binary.BigEndian.Uint64(v[12:])))
	return out, true
}

// stampOf returns the part of a stored value that a conditional write
// compares: the first stampLen bytes, or fewer for a short foreign value, as
// Redis GETRANGE 0 11 would return them.
func stampOf(raw []byte) []byte {
	return raw[:min(len(raw), stampLen)]
}
