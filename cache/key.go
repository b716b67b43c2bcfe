package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// keyVersion names the stored entry format. It changes whenever that format
// does, so that a new release never reads what an old one wrote.
const keyVersion = "v2"

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

// deriveKey returns "<prefix>:v2:{<hex sha256>}" over the canonical form of the
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
	// Most canonical forms fit on the stack, so a key costs one allocation.
	var stack [256]byte
	b := appendString(stack[:0], field)
	b, err := appendValue(b, args)
	if err != nil {
		return "", err
	}
	if callerHash == "" {
		b = append(b, 'P')
	} else {
		b = appendString(append(b, 'C'), callerHash)
	}
	sum := sha256.Sum256(b)
	var k strings.Builder
	k.Grow(len(prefix) + len(keyVersion) + 4 + 2*sha256.Size)
	k.WriteString(prefix)
	k.WriteByte(':')
	k.WriteString(keyVersion)
	k.WriteString(":{")
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	k.Write(hx[:])
	k.WriteByte('}')
	return k.String(), nil
}

// HashCredential returns the hex SHA-256 of a caller's credential, so private
// keys carry no secret and stay bounded in length.
func HashCredential(credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(sum[:])
}

func appendLength(b []byte, tag byte, n int) []byte {
	return binary.AppendUvarint(append(b, tag), uint64(n))
}

func appendString(b []byte, s string) []byte {
	return append(appendLength(b, 's', len(s)), s...)
}

func appendInt(b []byte, i int64) []byte {
	return binary.AppendVarint(append(b, 'i'), i)
}

// appendValue encodes the types that GraphQL argument coercion and the REST
// shim produce. Anything else is refused rather than guessed at.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, 'n'), nil
	case string:
		return appendString(b, v), nil
	case bool:
		if v {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case int:
		return appendInt(b, int64(v)), nil
	case int32:
		return appendInt(b, int64(v)), nil
	case int64:
		return appendInt(b, v), nil
	case float64:
		// Integral floats share the integer form: a GraphQL Float argument
		// written as 1 or 1.0 is the same value.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return appendInt(b, int64(v)), nil
		}
		return appendString(b, strconv.FormatFloat(v, 'g', -1, 64)), nil
	case []any:
		b = appendLength(b, 'l', len(v))
		for _, x := range v {
			var err error
			if b, err = appendValue(b, x); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		b = appendLength(b, 'm', len(v))
		if len(v) == 1 { // the usual case needs no sorting
			for k, x := range v {
				return appendValue(appendString(b, k), x)
			}
		}
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			var err error
			if b, err = appendValue(appendString(b, k), v[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	default:
		// Enums and other string-kinded scalars.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
			return appendString(b, rv.String()), nil
		}
		return nil, fmt.Errorf("cache key: unsupported argument type %T", v)
	}
}
