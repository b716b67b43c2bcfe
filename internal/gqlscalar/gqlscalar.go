// Package gqlscalar implements the schema's custom scalars: JSON, which passes
// the origin's bytes through without decoding them, and Time, which always
// prints UTC with exactly three fractional digits so that clients can compare
// cachedAt values as strings.
package gqlscalar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TimeLayout is RFC 3339 with milliseconds, the form every Time takes on the wire.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// JSON is a JSON value kept in its encoded form. The cache stores the origin's
// answer as bytes, so a hit is written to the response without a decode and
// re-encode round trip.
type JSON []byte

// MarshalGQL writes the value as it is. An empty value (never produced by the
// cache, which stores only valid JSON) is written as null so the response stays
// valid JSON.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL accepts any input value and keeps its JSON encoding.
func (j *JSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("JSON scalar: %w", err)
	}
	*j = b
	return nil
}

// MarshalTime formats t in UTC with millisecond precision.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [len(TimeLayout) + 2]byte
		b := append(buf[:0], '"')
		b = t.UTC().AppendFormat(b, TimeLayout)
		b = append(b, '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalTime parses an RFC 3339 string.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, errors.New("a Time must be an RFC 3339 string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("a Time must be an RFC 3339 string, got %s", strconv.Quote(s))
	}
	return t, nil
}
