package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gqlcache/gqlcache/internal/origin"
)

func TestTracingWantedFollowsTheOTELVariables(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want bool
	}{
		{nil, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, true},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"}, true},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp"}, true},
		{[]string{"OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, false},
		{[]string{"OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "otlp"}, false},
	} {
		if got := tracingWanted(env(tc.env...)); got != tc.want {
			t.Errorf("tracingWanted(%v) = %v; want %v", tc.env, got, tc.want)
		}
	}
}

func TestTracingSpans(t *testing.T) {
	re := redisEnv(t)
	cfg, err := loadConfig(func(k string) string { return re[k] })
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	a, err := newApp(context.Background(), cfg, origin.Generator{}, slog.New(slog.DiscardHandler), tp)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()

	for range 2 {
		a.handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/data?query=traced", nil))
	}
	gql := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ data(query: \"traced\") { source } }"}`))
	gql.Header.Set("Content-Type", "application/json")
	a.handler.ServeHTTP(httptest.NewRecorder(), gql)

	var requests []sdktrace.ReadOnlySpan
	redisCommands := 0
	for _, s := range rec.Ended() {
		switch {
		case s.Name() == "GET /data" || s.Name() == "POST /graphql":
			requests = append(requests, s)
		case s.InstrumentationScope().Name == "github.com/redis/go-redis/extra/redisotel":
			redisCommands++
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.String(), "traced") || strings.Contains(kv.Value.String(), cfg.prefix+":v2:{") {
					t.Errorf("redis span %s carries %s=%s; want no keys or arguments in traces", s.Name(), kv.Key, kv.Value.String())
				}
			}
		}
	}
	if len(requests) != 3 {
		t.Fatalf("got %d request spans; want one per request (3)", len(requests))
	}
	// The fill keeps the entry in the near cache, which answers the rest.
	wants := [][]string{{"miss"}, {"near_hit"}, {"near_hit"}}
	for i, s := range requests {
		got := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			got[kv.Key] = kv.Value.String()
		}
		if r := got["gqlcache.cache.result"]; !slices.Contains(wants[i], r) {
			t.Errorf("request %d (%s): gqlcache.cache.result = %q; want one of %q", i, s.Name(), r, wants[i])
		}
		if p := got["gqlcache.cache.key_prefix"]; p != cfg.prefix {
			t.Errorf("request %d (%s): gqlcache.cache.key_prefix = %q; want %q", i, s.Name(), p, cfg.prefix)
		}
		if _, ok := got["gqlcache.origin.duration_ms"]; ok != (i == 0) {
			t.Errorf("request %d: origin time recorded: %v; want it on the miss only", i, ok)
		}
	}
	if redisCommands == 0 {
		t.Error("no Redis command spans; want go-redis instrumented")
	}
}
