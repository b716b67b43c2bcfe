package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Bounds on an entry's tags. Tags past MaxTags, and tags that are not valid
// (see ValidateTag), are dropped from what the origin returned: counted in
// cache_tags_dropped_total and logged once, never an error.
const (
	MaxTags     = 16
	MaxTagBytes = 128
	// MaxPurgeTags bounds the tags of one InvalidateTags call.
	MaxPurgeTags = 64
)

// ErrInvalidTag is returned by InvalidateTags for a tag no entry can carry.
var ErrInvalidTag = errors.New("invalid tag")

// ErrNoTagIndex is returned by InvalidateTags when the store is no TagIndex.
var ErrNoTagIndex = errors.New("the cache store keeps no tag index")

// ValidateTag reports whether t can be a tag: 1 to MaxTagBytes bytes of
// printable ASCII without spaces or commas, so that tags travel unchanged
// in Cache-Tag (comma-separated) and Surrogate-Key (space-separated)
// headers.
func ValidateTag(t string) error {
	if t == "" || len(t) > MaxTagBytes {
		return fmt.Errorf("%w: a tag has 1 to %d bytes", ErrInvalidTag, MaxTagBytes)
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' || t[i] == ',' {
			return fmt.Errorf("%w: %q: a tag is printable ASCII without spaces or commas", ErrInvalidTag, t)
		}
	}
	return nil
}

// boundTags returns the first MaxTags distinct valid tags joined by ',', as
// entries store them, and how many it dropped.
func boundTags(tags []string) (joined string, dropped int) {
	kept := make([]string, 0, min(len(tags), MaxTags))
	for _, t := range tags {
		switch {
		case ValidateTag(t) != nil || len(kept) == MaxTags:
			dropped++
		case !containsString(kept, t):
			kept = append(kept, t)
		}
	}
	return joinTags(kept), dropped
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinTags(tags []string) string { return strings.Join(tags, ",") }

// validTagList reports whether s is what joinTags of at most MaxTags valid
// tags writes, without allocating: every decode of a tagged entry asks.
func validTagList(s string) bool {
	if s == "" {
		return true
	}
	for n := 1; ; n++ {
		t, rest, more := strings.Cut(s, ",")
		if n > MaxTags || ValidateTag(t) != nil {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// tagKey is where a store indexes tag t's entries: "<prefix>:v2:tag:{<hash>}",
// the hash a Cluster hash tag so that the index and the tag's purge mark
// (the same key plus ":purged") share a slot.
func tagKey(prefix, t string) string {
	sum := sha256.Sum256([]byte(t))
	return prefix + ":" + keyVersion + ":tag:{" + hex.EncodeToString(sum[:16]) + "}"
}

// splitTags is the inverse of joinTags.
func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
