package gqlscalar

import (
	"bytes"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMarshalTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), `"2026-11-26T05:00:00.000Z"`},
		{time.Date(2026, 11, 26, 5, 0, 0, 120_999_999, time.UTC), `"2026-11-26T05:00:00.120Z"`},
		{time.Date(2026, 11, 26, 6, 0, 0, 0, time.FixedZone("CET", 3600)), `"2026-11-26T05:00:00.000Z"`},
	} {
		var b bytes.Buffer
		MarshalTime(tc.in).MarshalGQL(&b)
		if b.String() != tc.want {
			t.Errorf("MarshalTime(%v) = %s; want %s", tc.in, b.String(), tc.want)
		}
	}
}

func TestUnmarshalTime(t *testing.T) {
	got, err := UnmarshalTime("2026-11-26T05:00:00.123Z")
	if err != nil || !got.Equal(time.Date(2026, 11, 26, 5, 0, 0, 123_000_000, time.UTC)) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []any{"yesterday", 12, nil} {
		if _, err := UnmarshalTime(bad); err == nil {
			t.Errorf("UnmarshalTime(%v): got nil error; want one", bad)
		}
	}
}

func TestJSONPassesBytesThrough(t *testing.T) {
	var b bytes.Buffer
	JSON(`{"b":1,  "a":[true]}`).MarshalGQL(&b)
	if b.String() != `{"b":1,  "a":[true]}` {
		t.Errorf("got %s; want the bytes unchanged", b.String())
	}
	b.Reset()
	JSON(nil).MarshalGQL(&b)
	if b.String() != "null" {
		t.Errorf("empty JSON: got %q; want null", b.String())
	}
	var j JSON
	if err := j.UnmarshalGQL(map[string]any{"a": 1}); err != nil || string(j) != `{"a":1}` {
		t.Errorf("UnmarshalGQL: got %s, %v", j, err)
	}
}
