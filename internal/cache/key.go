package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"reflect"
	"slices"
	"strconv"
)

// keyVersion names the stored entry format. It changes whenever that format
// does, so that a new release never reads what an old one wrote.
const keyVersion = "v1"

// MaxPrefixLen bounds the configurable key prefix, so that every key stays
// short whatever a deployment chooses.
const MaxPrefixLen = 64

// ValidatePrefix reports whether p can start every key: non-empty, at most
// MaxPrefixLen bytes of printable ASCII without spaces.
func ValidatePrefix(p string) error {
	if p == "" || len(p) > MaxPrefixLen {
		return fmt.Errorf("key prefix must be 1 to %d characters", MaxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] > '~' {
			return errors.New("key prefix must be printable ASCII without spaces")
		}
	}
	return nil
}

// deriveKey returns "<prefix>:v1:{<hex sha256>}" over the canonical form of the
// field coordinate, its coerced arguments and, for private fields, the caller.
//
// The hash is a Redis Cluster hash tag, so the entry and the keys that go
// with it (its lease) share a slot.
//
// The canonical form is a tagged, length-prefixed encoding rather than JSON:
// it is injective (JSON would fold every invalid UTF-8 byte into U+FFFD, so two
// different arguments could share an entry), it needs no reflection for the
// types GraphQL coercion produces, and map keys are sorted so the order a
// client wrote its arguments in never matters.
func deriveKey(prefix, field string, args map[string]any, callerHash string) (string, error) {
	h := sha256.New()
	e := canonical{h: h}
	e.str(field)
	if err := e.value(args); err != nil {
		return "", err
	}
	if callerHash == "" {
		e.tag('P')
	} else {
		e.tag('C')
		e.str(callerHash)
	}
	var sum [sha256.Size]byte
	out := make([]byte, 0, len(prefix)+len(keyVersion)+4+2*sha256.Size)
	out = append(out, prefix...)
	out = append(out, ':')
	out = append(out, keyVersion...)
	out = append(out, ":{"...)
	out = hex.AppendEncode(out, h.Sum(sum[:0]))
	out = append(out, '}')
	return string(out), nil
}

// HashCredential returns the hex SHA-256 of a caller's credential, so private
// keys carry no secret and stay bounded in length.
func HashCredential(credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(sum[:])
}

type canonical struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64 + 1]byte
}

func (e *canonical) tag(t byte) { _, _ = e.h.Write(append(e.buf[:0], t)) }

func (e *canonical) length(t byte, n int) {
	b := append(e.buf[:0], t)
	b = binary.AppendUvarint(b, uint64(n))
	_, _ = e.h.Write(b)
}

func (e *canonical) str(s string) {
	e.length('s', len(s))
	_, _ = e.h.Write([]byte(s))
}

func (e *canonical) int(i int64) {
	b := append(e.buf[:0], 'i')
	b = binary.AppendVarint(b, i)
	_, _ = e.h.Write(b)
}

// value encodes the types that GraphQL argument coercion and the REST shim
// produce. Anything else is refused rather than guessed at.
func (e *canonical) value(v any) error {
	switch v := v.(type) {
	case nil:
		e.tag('n')
	case string:
		e.str(v)
	case bool:
		if v {
			e.tag('t')
		} else {
			e.tag('f')
		}
	case int:
		e.int(int64(v))
	case int32:
		e.int(int64(v))
	case int64:
		e.int(v)
	case float64:
		// Integral floats share the integer form: a GraphQL Float argument
		// written as 1 or 1.0 is the same value.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			e.int(int64(v))
			return nil
		}
		e.str(strconv.FormatFloat(v, 'g', -1, 64))
	case []any:
		e.length('l', len(v))
		for _, x := range v {
			if err := e.value(x); err != nil {
				return err
			}
		}
	case map[string]any:
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		slices.Sort(names)
		e.length('m', len(names))
		for _, k := range names {
			e.str(k)
			if err := e.value(v[k]); err != nil {
				return err
			}
		}
	default:
		// Enums and other string-kinded scalars.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
			e.str(rv.String())
			return nil
		}
		return fmt.Errorf("cache key: unsupported argument type %T", v)
	}
	return nil
}
