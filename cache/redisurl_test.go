package cache

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseRedisURL holds each REDIS_URL form to the topology it selects and
// to the service's bounds, which no query parameter may loosen.
func TestParseRedisURL(t *testing.T) {
	const timeout = 250 * time.Millisecond
	type bounds struct{ dial, read, write, pool time.Duration }
	want := bounds{timeout, timeout, timeout, timeout}
	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, c redisConfig)
		desc      string
	}{
		{
			name: "single", url: "redis://127.0.0.1:6379/0",
			desc: "127.0.0.1:6379 db 0",
			check: func(t *testing.T, c redisConfig) {
				o := c.single
				if o == nil || o.Addr != "127.0.0.1:6379" || o.DB != 0 || o.TLSConfig != nil {
					t.Fatalf("got %+v; want one node at 127.0.0.1:6379 db 0 without TLS", o)
				}
				if got := (bounds{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}); got != want || o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
					t.Errorf("bounds %v, retries %d, dialer retries %d, context deadlines %v; want %v, 1, 1, true", got, o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled, want)
				}
			},
		},
		{
			name: "single with credentials and db", url: "redis://app:s3cret@10.0.0.1:6380/2?dial_timeout=30s&max_retries=9",
			desc: "10.0.0.1:6380 db 2",
			check: func(t *testing.T, c redisConfig) {
				o := c.single
				if o == nil || o.Username != "app" || o.Password != "s3cret" || o.DB != 2 {
					t.Fatalf("got %+v; want user app, its password, db 2", o)
				}
				if o.DialTimeout != timeout || o.MaxRetries != 1 {
					t.Errorf("dial timeout %v, retries %d; want %v and 1 whatever the query says", o.DialTimeout, o.MaxRetries, timeout)
				}
			},
		},
		{
			name: "single over TLS", url: "rediss://:s3cret@cache.example:6380",
			desc: "cache.example:6380 db 0, tls",
			check: func(t *testing.T, c redisConfig) {
				if o := c.single; o == nil || o.TLSConfig == nil || o.Password != "s3cret" {
					t.Fatalf("got %+v; want TLS and the password", o)
				}
			},
		},
		{
			name: "cluster", url: "redis://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000",
			desc: "cluster, seeds 10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
			check: func(t *testing.T, c redisConfig) {
				o := c.cluster
				if o == nil || !slices.Equal(o.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}) || o.Password != "s3cret" {
					t.Fatalf("got %+v; want three seeds and the password", o)
				}
				if got := (bounds{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}); got != want || o.MaxRedirects != 1 || o.MaxRetries != -1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
					t.Errorf("bounds %v, redirects %d, node retries %d, dialer retries %d, context deadlines %v; want %v, 1, -1, 1, true",
						got, o.MaxRedirects, o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled, want)
				}
			},
		},
		{
			name: "cluster with one addr parameter over TLS", url: "rediss://10.0.0.1:7000/0?addr=10.0.0.2:7000",
			desc: "cluster, seeds 10.0.0.1:7000,10.0.0.2:7000, tls",
			check: func(t *testing.T, c redisConfig) {
				if o := c.cluster; o == nil || o.TLSConfig == nil || len(o.Addrs) != 2 {
					t.Fatalf("got %+v; want two seeds over TLS", o)
				}
			},
		},
		{
			name: "sentinel", url: "redis://10.0.0.1:26379/1?master_name=mymaster&addr=10.0.0.2:26379&addr=10.0.0.3:26379&password=s3cret",
			desc: "sentinel, master mymaster via 10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379 db 1",
			check: func(t *testing.T, c redisConfig) {
				o := c.failover
				if o == nil || o.MasterName != "mymaster" || o.DB != 1 || o.Password != "s3cret" || o.SentinelPassword != "" ||
					!slices.Equal(o.SentinelAddrs, []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"}) {
					t.Fatalf("got %+v; want master mymaster db 1 behind three sentinels, the password for the primary", o)
				}
				if got := (bounds{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}); got != want || o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
					t.Errorf("bounds %v, retries %d, dialer retries %d, context deadlines %v; want %v, 1, 1, true", got, o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled, want)
				}
			},
		},
		{
			name: "sentinel with sentinel credentials", url: "rediss://sentinel-user:s3cret@10.0.0.1:26379?master_name=m",
			desc: "sentinel, master m via 10.0.0.1:26379 db 0, tls",
			check: func(t *testing.T, c redisConfig) {
				o := c.failover
				if o == nil || o.SentinelUsername != "sentinel-user" || o.SentinelPassword != "s3cret" || o.Password != "" || o.TLSConfig == nil {
					t.Fatalf("got %+v; want the user info to authenticate to the sentinels only, over TLS", o)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateRedisURL(tc.url); err != nil {
				t.Fatalf("ValidateRedisURL: %v", err)
			}
			c, err := parseRedisURL(tc.url, timeout)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, c)
			s, err := OpenRedis(tc.url, timeout)
			if err != nil {
				t.Fatalf("OpenRedis: %v", err)
			}
			defer s.Close()
			if got, want := s.Describe(), "redis ("+tc.desc+")"; got != want {
				t.Errorf("Describe = %q; want %q", got, want)
			}
		})
	}
}

func TestParseRedisURLRefusesWithoutEchoingThePassword(t *testing.T) {
	for _, tc := range []struct{ name, url, why string }{
		{"empty", "", "invalid URL scheme"},
		{"other scheme", "http://:s3cret@10.0.0.1:6379", "invalid URL scheme"},
		{"unparsable", "redis://:s3cret@10.0.0.1:port", "cannot parse"},
		{"bad db", "redis://:s3cret@10.0.0.1:6379/x", "invalid database number"},
		{"unknown parameter", "redis://:s3cret@10.0.0.1:6379?colour=blue", "unexpected option"},
		{"cluster with a db", "redis://:s3cret@10.0.0.1:7000/1?addr=10.0.0.2:7000", "only database 0"},
		{"cluster with an unknown parameter", "redis://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000&colour=blue", "unexpected option"},
		{"cluster over another scheme", "http://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000", "invalid URL scheme"},
		{"sentinel without a name", "redis://10.0.0.1:26379?master_name=&password=s3cret", "master_name is empty"},
		{"sentinel with a bad addr", "redis://:s3cret@10.0.0.1:26379?master_name=m&addr=10.0.0.2", "invalid"},
		{"several hosts with commas", "redis://:s3cret@10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000", "not a host name"},
		{"several host names with commas", "redis://h1:7000,h2:7000", "addr parameters"},
		{"cluster with commas in an addr", "redis://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000,10.0.0.3", "not one host:port"},
		{"cluster with a list of addrs in one", "redis://:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000,10.0.0.3:7000", "not one host:port"},
		{"sentinel with commas in the host", "redis://10.0.0.1:26379,10.0.0.2:26379?master_name=m&password=s3cret", "not a host name"},
		{"host with a semicolon", "redis://:s3cret@cache;one:6379", "not a host name"},
		// go-redis quotes a bad value; here the value is the password too.
		{"sentinel echoing a value", "redis://10.0.0.1:26379?master_name=m&password=s3cret&max_retries=s3cret", "invalid max_retries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenRedis(tc.url, time.Second)
			if err == nil {
				t.Fatal("OpenRedis: no error; want the URL refused")
			}
			if verr := ValidateRedisURL(tc.url); verr == nil || verr.Error() != err.Error() {
				t.Errorf("ValidateRedisURL: got %v; want OpenRedis's error %v", verr, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q repeats the password", msg)
			}
			if !strings.Contains(msg, tc.why) || !strings.Contains(msg, "want redis://") {
				t.Errorf("error %q; want it to say %q and show the accepted forms", msg, tc.why)
			}
		})
	}
}
