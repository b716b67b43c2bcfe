package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGeneratorAnswersTheSeedSentence(t *testing.T) {
	at := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	got, err := Generator{Now: func() time.Time { return at }}.Fetch(context.Background(), Request{Query: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(got.Data, &s); err != nil {
		t.Fatalf("answer %s is not a JSON string: %v", got.Data, err)
	}
	if want := "Hello, this is fresh data at 2026-11-26T05:00:00Z"; s != want {
		t.Errorf("got %q; want %q", s, want)
	}
}

func TestGeneratorDelayHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Generator{Delay: 10 * time.Second}.Fetch(ctx, Request{Query: "x"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("got %v after %v; want DeadlineExceeded promptly", err, time.Since(start))
	}
	got, err := Generator{Delay: 20 * time.Millisecond}.Fetch(context.Background(), Request{Query: "x"})
	if err != nil || !strings.Contains(string(got.Data), "fresh data") {
		t.Errorf("with a short delay: got %s, %v", got.Data, err)
	}
}

func TestGeneratorTagsByThePartBeforeTheColon(t *testing.T) {
	for query, want := range map[string]string{"weather:paris": "[weather]", "weather:paris:today": "[weather]", "plain": "[]", ":x": "[]"} {
		got, err := Generator{}.Fetch(context.Background(), Request{Query: query})
		if err != nil || fmt.Sprint(got.Tags) != want {
			t.Errorf("%q: got tags %v, %v; want %s", query, got.Tags, err, want)
		}
	}
}
