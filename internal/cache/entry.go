package cache

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"time"
)

// An entry is what one key holds: the origin's data with the instants that
// decide its freshness, the origin's answer that it has no such item (a
// negative entry, without data), or a tombstone left by an invalidation.
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
//	36 CRC-32C of data   4 bytes
//	40 data              the origin's JSON, unchanged
//
// The first stampLen bytes identify one write: a conditional write compares
// them to decide whether the key still holds what the writer saw.
type entry struct {
	kind       byte
	nonce      uint64
	cachedAt   time.Time
	freshUntil time.Time
	staleUntil time.Time
	data       []byte
}

const (
	formatVersion = 1
	headerLen     = 40
	stampLen      = 12

	kindData      byte = 'd'
	kindNotFound  byte = 'n'
	kindTombstone byte = 't'
)

var (
	errCorrupt = errors.New("cache: stored entry is corrupt or foreign")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

func newEntry(kind byte, data []byte, cachedAt time.Time, ttl, stale time.Duration) entry {
	cachedAt = cachedAt.Truncate(time.Millisecond)
	fresh := cachedAt.Add(ttl)
	return entry{
		kind:       kind,
		nonce:      rand.Uint64(),
		cachedAt:   cachedAt,
		freshUntil: fresh,
		staleUntil: fresh.Add(stale),
		data:       data,
	}
}

func (e entry) encode() []byte {
	b := make([]byte, headerLen+len(e.data))
	b[0], b[1], b[2], b[3] = 'g', 'q', formatVersion, e.kind
	binary.BigEndian.PutUint64(b[4:], e.nonce)
	binary.BigEndian.PutUint64(b[12:], uint64(e.cachedAt.UnixMilli()))
	binary.BigEndian.PutUint64(b[20:], uint64(e.freshUntil.UnixMilli()))
	binary.BigEndian.PutUint64(b[28:], uint64(e.staleUntil.UnixMilli()))
	binary.BigEndian.PutUint32(b[36:], crc32.Checksum(e.data, crcTable))
	copy(b[headerLen:], e.data)
	return b
}

// decodeEntry parses b without copying its data. Anything that is not an
// entry this version wrote, intact, is errCorrupt: a foreign or damaged value
// must read as a miss, never as an answer.
func decodeEntry(b []byte) (entry, error) {
	if len(b) < headerLen || b[0] != 'g' || b[1] != 'q' || b[2] != formatVersion {
		return entry{}, errCorrupt
	}
	e := entry{
		kind:       b[3],
		nonce:      binary.BigEndian.Uint64(b[4:]),
		cachedAt:   time.UnixMilli(int64(binary.BigEndian.Uint64(b[12:]))),
		freshUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(b[20:]))),
		staleUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(b[28:]))),
		data:       b[headerLen:],
	}
	switch {
	case e.kind != kindData && e.kind != kindNotFound && e.kind != kindTombstone,
		e.kind == kindData && len(e.data) == 0,
		e.freshUntil.Before(e.cachedAt), e.staleUntil.Before(e.freshUntil),
		crc32.Checksum(e.data, crcTable) != binary.BigEndian.Uint32(b[36:]):
		return entry{}, errCorrupt
	}
	return e, nil
}

// stampOf returns the part of a stored value that a conditional write
// compares: the first stampLen bytes, or fewer for a short foreign value, as
// Redis GETRANGE 0 11 would return them.
func stampOf(raw []byte) []byte {
	return raw[:min(len(raw), stampLen)]
}
