package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/gqlcache/gqlcache/cache"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":8080" || c.ttl != 5*time.Second || c.stale != 0 || c.prefix != "gqlcache" ||
		c.redisURL != "" || c.originDelay != 0 || c.scope != cache.ScopePublic || c.nearTTL != time.Second ||
		c.production || !c.introspection || c.naiveCachedAt || c.shutdownDelay != 5*time.Second {
		t.Errorf("defaults: got %+v; want :8080, 5s TTL, no stale window, prefix gqlcache, memory store, no delay, public, aware timestamps, a 5s drain", c)
	}
}

func TestConfigValues(t *testing.T) {
	c, err := loadConfig(env("PORT", "9000", "CACHE_TTL", "250ms", "CACHE_STALE", "30s", "ORIGIN_DELAY", "1s",
		"CACHE_KEY_PREFIX", "team-a", "REDIS_URL", "rediss://:pw@cache.internal:6380/2", "CACHE_SCOPE", "PRIVATE",
		"NEAR_CACHE_TTL", "250ms", "MODE", "production", "REST_TIMESTAMPS", "naive"))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":9000" || c.ttl != 250*time.Millisecond || c.stale != 30*time.Second || c.originDelay != time.Second ||
		c.prefix != "team-a" || c.scope != cache.ScopePrivate || c.nearTTL != 250*time.Millisecond ||
		!c.production || c.introspection || !c.naiveCachedAt {
		t.Errorf("got %+v; want the values given", c)
	}
	if c, _ := loadConfig(env("PORT", "9000", "ADDR", "127.0.0.1:7000")); c.addr != "127.0.0.1:7000" {
		t.Errorf("ADDR and PORT: got addr %q; want ADDR to win", c.addr)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"CACHE_TTL", "5"},
		{"CACHE_TTL", "0s"},
		{"CACHE_TTL", "-1s"},
		{"CACHE_STALE", "soon"},
		{"ORIGIN_DELAY", "-5ms"},
		{"ORIGIN_TIMEOUT", "0"},
		{"ORIGIN_MAX_INFLIGHT", "0"},
		{"ORIGIN_QUEUE_TIMEOUT", "0s"},
		{"ORIGIN_BREAKER_FAILURES", "-1"},
		{"ORIGIN_BREAKER_COOLDOWN", "soon"},
		{"NEGATIVE_TTL", "0"},
		{"CLIENT_REVALIDATION", "sometimes"},
		{"REDIS_TIMEOUT", "x"},
		{"REDIS_SLOW_CALL", "x"},
		{"REDIS_SLOW_CALL", "100ms"}, // not below REDIS_TIMEOUT's 100ms
		{"REDIS_URL", "localhost:6379"},
		{"REDIS_URL", "http://localhost"},
		{"REDIS_URL", "redis://h1:7000,h2:7000,h3:7000"},
		{"PORT", "http"},
		{"PORT", "70000"},
		{"CACHE_KEY_PREFIX", "has space"},
		{"CACHE_SCOPE", "shared"},
		{"REST_TIMESTAMPS", "python"},
		{"CACHE_MEMORY_BYTES", "0"},
		{"MAX_QUERY_LENGTH", "-1"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
		{"NEAR_CACHE_TTL", "-1s"},
		{"SHUTDOWN_DELAY", "5"},
		{"SHUTDOWN_DELAY", "-1s"},
		{"ORIGIN_URL", "ftp://upstream/{query}"},
		{"CORS_ORIGINS", "app.example.com"},
		{"APQ_TTL", "forever"},
		{"MODE", "staging"},
		{"INTROSPECTION", "maybe"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := loadConfig(env(tc.name, tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("got %v; want an error naming %s", err, tc.name)
			}
		})
	}
}

func TestConfigNeverEchoesRedisPassword(t *testing.T) {
	_, err := loadConfig(env("REDIS_URL", "ftp://user:hunter2@host"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v; want an error without the password", err)
	}
}

func TestRunStopsOnBadConfiguration(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"gqlcache"}, env("CACHE_TTL", "five"), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CACHE_TTL") {
		t.Errorf("run with CACHE_TTL=five: got %v; want an error naming CACHE_TTL", err)
	}
	err = run(context.Background(), []string{"gqlcache", "extra"}, env(), &out, &out)
	if err == nil {
		t.Error("run with a stray argument: got nil; want an error")
	}
}

func TestFlagsOverrideVariables(t *testing.T) {
	fs := flag.NewFlagSet("gqlcache", flag.ContinueOnError)
	getenv, err := withFlags(fs, []string{"-cache-ttl", "250ms", "-addr", "127.0.0.1:9"}, env("CACHE_TTL", "1m", "CACHE_STALE", "3s"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.ttl != 250*time.Millisecond || c.addr != "127.0.0.1:9" || c.stale != 3*time.Second {
		t.Errorf("got ttl %v addr %q stale %v; want the flags' 250ms and 127.0.0.1:9, and the variable's 3s", c.ttl, c.addr, c.stale)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"gqlcache", "-cache-ttl", "five"}, env(), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CACHE_TTL") {
		t.Errorf("run -cache-ttl five: got %v; want an error naming CACHE_TTL", err)
	}
	if err := run(context.Background(), []string{"gqlcache", "-no-such-flag"}, env(), &out, &out); err == nil {
		t.Error("run with an unknown flag: got nil; want an error")
	}
}
