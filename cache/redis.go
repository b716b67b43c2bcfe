package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// RedisStore is the production Store: one Redis node, a Sentinel-managed
// primary or a Redis Cluster, through go-redis's UniversalClient. Every write
// is a single command or script that sets the value and its expiry together.
//
// A key's lease lives at the key plus ":lease". Keys carry their hash in a
// hash tag, so in a Cluster an entry and its lease share a slot and one
// script may touch both.
type RedisStore struct {
	rdb  redis.UniversalClient
	desc string
}

var (
	_ Store       = (*RedisStore)(nil)
	_ Broadcaster = (*RedisStore)(nil)
)

// NewRedisStore returns a store on rdb; desc names where it is (an address,
// never a password) for logs and readiness.
func NewRedisStore(rdb redis.UniversalClient, desc string) *RedisStore {
	return &RedisStore{rdb: rdb, desc: desc}
}

// OpenRedis connects to the Redis that rawURL names, in one of three forms
// (rediss:// instead of redis:// for TLS):
//
//	redis://[user:password@]host:port[/db]
//	    one node
//	redis://[user:password@]host1:port1?addr=host2:port2[&addr=host3:port3...]
//	    a Redis Cluster: any addr parameter makes the addresses seed nodes
//	redis://[user:password@]sentinel1:port1[/db]?master_name=NAME[&addr=sentinel2:port2...][&username=U][&password=P]
//	    a Sentinel-managed primary: any master_name parameter makes the
//	    addresses sentinels; the user info authenticates to the sentinels,
//	    the username and password parameters to the primary
//
// These are go-redis's own ParseURL, ParseClusterURL and ParseFailoverURL
// forms, so its documentation holds for them. Every command, dial and pool
// wait honours its context's deadline, retries included, so the cache's
// store budget bounds them; timeout bounds those whose context has none.
// At most one retry runs, whatever the URL's query asks: a slow Redis must
// cost a request little, since to the cache a failed store read is only a
// miss.
func OpenRedis(rawURL string, timeout time.Duration) (*RedisStore, error) {
	cfg, err := parseRedisURL(rawURL, timeout)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.cluster != nil:
		return NewRedisStore(redis.NewClusterClient(cfg.cluster), cfg.desc), nil
	case cfg.failover != nil:
		return NewRedisStore(redis.NewFailoverClient(cfg.failover), cfg.desc), nil
	default:
		return NewRedisStore(redis.NewClient(cfg.single), cfg.desc), nil
	}
}

// ValidateRedisURL reports whether OpenRedis would accept rawURL, with the
// error OpenRedis would give, so that configuration can be checked at
// start without connecting. The error never repeats a password.
func ValidateRedisURL(rawURL string) error {
	_, err := parseRedisURL(rawURL, time.Second)
	return err
}

// redisURLForms is the hint an invalid REDIS_URL gets.
const redisURLForms = "want redis://[user:password@]host:port[/db] for one node, " +
	"redis://[user:password@]host:port?addr=host2:port2&addr=... for a Cluster, " +
	"or redis://[user:password@]sentinel:port[/db]?master_name=NAME&addr=sentinel2:port... for Sentinel " +
	"(rediss:// for TLS)"

// redisConfig is the topology a Redis URL selects: exactly one of single,
// cluster and failover is set.
type redisConfig struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
	desc     string
}

// parseRedisURL reads the topology from rawURL's form and applies the
// service's bounds to it. Its errors never repeat a password: the URL's
// user info and password parameter are masked in whatever go-redis reports.
func parseRedisURL(rawURL string, timeout time.Duration) (redisConfig, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes the whole URL, password included.
		return redisConfig{}, errors.New("cannot parse the Redis URL: " + redisURLForms)
	}
	var secrets []string
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	q := u.Query()
	secrets = append(secrets, q["password"]...)
	fail := func(kind string, err error) error {
		return fmt.Errorf("invalid Redis %sURL (%s): %s", kind, redact(err.Error(), secrets), redisURLForms)
	}
	// go-redis takes whatever stands between "//" and the path as the one
	// node's address, so a comma-separated list of nodes, the form other
	// clients take for a Cluster, would become a host that no lookup finds.
	if h := u.Hostname(); h != "" && !isHostName(h) {
		return redisConfig{}, fail("", fmt.Errorf("%q is not a host name; several nodes are given as addr parameters", h))
	}
	for _, a := range q["addr"] {
		h, port, err := net.SplitHostPort(a)
		if err != nil {
			h, port = a, "" // no port: go-redis judges that; a list of nodes fails here
		}
		if _, perr := strconv.ParseUint(port, 10, 16); !isHostName(h) || port != "" && perr != nil {
			return redisConfig{}, fail("", fmt.Errorf("addr %q is not one host:port; give one node per addr parameter", a))
		}
	}
	var tls string
	if u.Scheme == "rediss" {
		tls = ", tls"
	}

	switch {
	case q.Has("master_name"):
		opt, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return redisConfig{}, fail("Sentinel ", err)
		}
		if opt.MasterName == "" {
			return redisConfig{}, fail("Sentinel ", errors.New("master_name is empty"))
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
		opt.ContextTimeoutEnabled = true
		opt.MaxRetries = 1
		opt.DialerRetries = 1
		return redisConfig{failover: opt, desc: fmt.Sprintf("sentinel, master %s via %s db %d%s",
			opt.MasterName, strings.Join(opt.SentinelAddrs, ","), opt.DB, tls)}, nil

	case q.Has("addr"):
		// A Cluster has only database 0, and go-redis ignores the path.
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return redisConfig{}, fail("Cluster ", errors.New("a Cluster has only database 0"))
		}
		opt, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return redisConfig{}, fail("Cluster ", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
		opt.ContextTimeoutEnabled = true
		// The cluster client runs its own attempt loop, redirects and
		// retries alike, around the node clients: one redirect or retry
		// there, none inside, keeps the worst case at two attempts.
		opt.MaxRedirects = 1
		opt.MaxRetries = -1
		opt.DialerRetries = 1
		return redisConfig{cluster: opt, desc: fmt.Sprintf("cluster, seeds %s%s", strings.Join(opt.Addrs, ","), tls)}, nil

	default:
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return redisConfig{}, fail("", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
		opt.ContextTimeoutEnabled = true
		opt.MaxRetries = 1
		opt.DialerRetries = 1
		return redisConfig{single: opt, desc: fmt.Sprintf("%s db %d%s", opt.Addr, opt.DB, tls)}, nil
	}
}

// isHostName reports whether h can name a host: an IP address, or a DNS
// name of letters, digits, hyphens and underscores (container platforms'
// service names carry them) in dot-separated labels.
func isHostName(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// redact masks every secret in s.
func redact(s string, secrets []string) string {
	for _, p := range secrets {
		if p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// InstrumentTracing adds a span per Redis command to tp's traces, without
// the commands' arguments: those are keys and cached answers.
func (r *RedisStore) InstrumentTracing(tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(r.rdb, redisotel.WithTracerProvider(tp), redisotel.WithDBStatement(false))
}

// Close closes the connection pool.
func (r *RedisStore) Close() error { return r.rdb.Close() }

func leaseKey(key string) string { return key + ":lease" }

// claimScript returns the entry's value and whether the lease was taken:
// when free, or held by a token starting with ARGV[3], the owner's prefix
// (never when ARGV[3] is empty).
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local held = redis.call('GET', KEYS[2])
if held and (ARGV[3] == '' or string.sub(held, 1, #ARGV[3]) ~= ARGV[3]) then
  return {v, 0}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {v, 1}`)

// fillScript writes ARGV[2] with expiry ARGV[3] ms only when the key's first 12
// bytes (stampLen) equal ARGV[1]; GETRANGE answers "" for a missing key,
// which is the stamp of "nothing stored". It then frees the lease if
// ARGV[4] still holds it.
var fillScript = redis.NewScript(`
local stored = 0
if redis.call('GETRANGE', KEYS[1], 0, 11) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  stored = 1
` + announce + `
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
end
return stored`)

// replaceScript writes ARGV[1] with expiry ARGV[2] ms, announces it and
// answers whether the key held a value.
var replaceScript = redis.NewScript(`
local old = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'GET')
` + strings.ReplaceAll(announce, "ARGV[2]", "ARGV[1]") + `
if old then return 1 end
return 0`)

// announce publishes, on "<prefix>:v2:changes" for a key
// "<prefix>:v2:{<hash>}", the nonce of the value just written (its bytes 5
// to 12, see entry) followed by the key, for the near caches of every
// process sharing this Redis (see Broadcaster). Keys of another shape are
// not announced. In a Cluster, PUBLISH reaches subscribers on every node.
const announce = `
local prefix = string.match(KEYS[1], '^(.*):{')
if prefix then
  redis.call('PUBLISH', prefix .. ':changes', string.sub(ARGV[2], 5, 12) .. KEYS[1])
end`

// releaseScript frees a lease only while it still holds the caller's token, so a
// slow holder whose lease expired cannot free someone else's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Get implements Store.
func (r *RedisStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// GetMany implements Store: one pipeline, which a Cluster client splits
// into one round trip per node.
func (r *RedisStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	values := make([][]byte, len(keys))
	for i, cmd := range cmds {
		b, err := cmd.(*redis.StringCmd).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, err
		default:
			values[i] = b
		}
	}
	return values, nil
}

// Claim implements Store.
func (r *RedisStore) Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (Claim, error) {
	var owner string
	if o, _, ok := strings.Cut(token, "."); ok {
		owner = o + "."
	}
	res, err := claimScript.Run(ctx, r.rdb, []string{key, leaseKey(key)}, token, leaseTTL.Milliseconds(), owner).Slice()
	if err != nil {
		return Claim{}, err
	}
	if len(res) != 2 {
		return Claim{}, fmt.Errorf("claim: unexpected reply %v", res)
	}
	var c Claim
	if s, ok := res[0].(string); ok {
		c.Value = []byte(s)
	}
	c.Leased = res[1] == int64(1)
	return c, nil
}

// Fill implements Store.
func (r *RedisStore) Fill(ctx context.Context, key string, stamp, value []byte, ttl time.Duration, token string) (bool, error) {
	n, err := fillScript.Run(ctx, r.rdb, []string{key, leaseKey(key)}, stamp, value, ttl.Milliseconds(), token).Int()
	return n == 1, err
}

// Release implements Store.
func (r *RedisStore) Release(ctx context.Context, key, token string) error {
	return releaseScript.Run(ctx, r.rdb, []string{leaseKey(key)}, token).Err()
}

// Replace implements Store.
func (r *RedisStore) Replace(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	n, err := replaceScript.Run(ctx, r.rdb, []string{key}, value, ttl.Milliseconds()).Int()
	return n == 1, err
}

// Changes implements Broadcaster. go-redis resubscribes after a lost
// connection; each subscription confirmation calls reset, since whatever
// was announced in between is lost.
func (r *RedisStore) Changes(ctx context.Context, channel string, changed func(key string, nonce uint64), reset func()) {
	ps := r.rdb.Subscribe(ctx, channel)
	defer ps.Close()
	msgs := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				reset()
			case *redis.Message:
				if len(m.Payload) > 8 {
					changed(m.Payload[8:], binary.BigEndian.Uint64([]byte(m.Payload[:8])))
				}
			}
		}
	}
}

// Ping implements Store.
func (r *RedisStore) Ping(ctx context.Context) error {
	return r.rdb.Ping(ctx).Err()
}

// Describe implements Store.
func (r *RedisStore) Describe() string { return fmt.Sprintf("redis (%s)", r.desc) }

// tagScript indexes ARGV[1] under the tag whose index is KEYS[1], scored by
// its entry's end ARGV[2] (Unix ms), after dropping members that ended
// before ARGV[3] (now), so an index never outgrows its live entries; it
// stretches the index's expiry to its longest member and returns the tag's
// purge mark KEYS[2] (Unix µs), or false.
var tagScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local life = tonumber(ARGV[2]) - tonumber(ARGV[3]) + 1000
if redis.call('PTTL', KEYS[1]) < life then
  redis.call('PEXPIRE', KEYS[1], life)
end
return redis.call('GET', KEYS[2])`)

// purgeScript sets the purge mark KEYS[2] to ARGV[1] (Unix µs: a fill
// begun in the same millisecond, after the purge, need not be refused) for
// ARGV[2] ms and returns the members of the index KEYS[1] whose entries
// live past ARGV[3] (the same instant in Unix ms). The members stay: should the caller fail before reaching them, a
// repeated purge finds them again.
var purgeScript = redis.NewScript(`
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
return redis.call('ZRANGE', KEYS[1], 0, -1)`)

// softenScript is softened in Lua: when KEYS[1] holds a data entry of this
// format (its first 4 bytes equal ARGV[3]) fresh and within its stale window
// at ARGV[2] (Unix ms; ARGV[4] the same as 8 big-endian bytes), it rewrites
// the nonce to ARGV[1] and freshUntil to ARGV[4] (or cachedAt, if later),
// keeping the key's expiry, and announces the write.
var softenScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 4) ~= ARGV[3] or string.len(v) < 42 then return 0 end
local function ms(s)
  local hi, lo = struct.unpack('>I4I4', s)
  return hi * 4294967296 + lo
end
local at = tonumber(ARGV[2])
if ms(string.sub(v, 21, 28)) <= at or ms(string.sub(v, 29, 36)) <= at then return 0 end
local fresh = ARGV[4]
if ms(string.sub(v, 13, 20)) > at then fresh = string.sub(v, 13, 20) end
redis.call('SET', KEYS[1], string.sub(v, 1, 4) .. ARGV[1] .. string.sub(v, 13, 20) .. fresh .. string.sub(v, 29), 'KEEPTTL')
` + strings.ReplaceAll(announce, "string.sub(ARGV[2], 5, 12)", "ARGV[1]") + `
return 1`)

// pipeBatch bounds the commands one pipeline carries, and with them the
// memory a purge of many entries holds at once.
const pipeBatch = 1000

// evalAll runs script once per element of keys (each call's KEYS) with
// args, pipelined in batches: a Cluster client sends each batch to every
// node concurrently. A node that lost its scripts (a restart, SCRIPT FLUSH)
// gets them loaded and the batch again; every script here may run twice.
func (r *RedisStore) evalAll(ctx context.Context, script *redis.Script, keys [][]string, args func(i int) []any) ([]*redis.Cmd, error) {
	out := make([]*redis.Cmd, 0, len(keys))
	for start := 0; start < len(keys); start += pipeBatch {
		end := min(len(keys), start+pipeBatch)
		for attempt := 0; ; attempt++ {
			cmds := make([]*redis.Cmd, 0, end-start)
			_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := start; i < end; i++ {
					cmds = append(cmds, script.EvalSha(ctx, p, keys[i], args(i)...))
				}
				return nil
			})
			err := firstError(cmds)
			if err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := script.Load(ctx, r.rdb).Err(); err != nil {
					return nil, err
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, cmds...)
			break
		}
	}
	return out, nil
}

// firstError is the first failure among cmds, a NOSCRIPT before any other;
// a nil reply (redis.Nil) is an answer, not a failure.
func firstError(cmds []*redis.Cmd) error {
	var first error
	for _, c := range cmds {
		err := c.Err()
		switch {
		case err == nil || errors.Is(err, redis.Nil):
		case redis.HasErrorPrefix(err, "NOSCRIPT"):
			return err
		case first == nil:
			first = err
		}
	}
	return first
}

func tagPairs(tagKeys []string) [][]string {
	keys := make([][]string, len(tagKeys))
	for i, t := range tagKeys {
		keys[i] = []string{t, t + ":purged"}
	}
	return keys
}

// Tag implements Store. The tags' indexes may live on different Cluster
// nodes; one pipelined round trip reaches them all.
func (r *RedisStore) Tag(ctx context.Context, key string, tagKeys []string, until, now time.Time) (time.Time, error) {
	cmds, err := r.evalAll(ctx, tagScript, tagPairs(tagKeys), func(int) []any {
		return []any{key, until.UnixMilli(), now.UnixMilli()}
	})
	if err != nil {
		return time.Time{}, err
	}
	var latest time.Time
	for _, c := range cmds {
		us, err := c.Int64()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return time.Time{}, err
		}
		if at := time.UnixMicro(us); at.After(latest) {
			latest = at
		}
	}
	return latest, nil
}

// Purge implements Store.
func (r *RedisStore) Purge(ctx context.Context, tagKeys []string, at time.Time, life time.Duration) ([]string, error) {
	cmds, err := r.evalAll(ctx, purgeScript, tagPairs(tagKeys), func(int) []any {
		return []any{at.UnixMicro(), life.Milliseconds(), at.UnixMilli()}
	})
	if err != nil {
		return nil, err
	}
	var keys []string
	seen := make(map[string]bool)
	for _, c := range cmds {
		members, err := c.StringSlice()
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				keys = append(keys, m)
			}
		}
	}
	return keys, nil
}

func oneKeyEach(keys []string) [][]string {
	out := make([][]string, len(keys))
	for i, k := range keys {
		out[i] = []string{k}
	}
	return out
}

// sumInts adds the integer replies of cmds.
func sumInts(cmds []*redis.Cmd) (int, error) {
	n := 0
	for _, c := range cmds {
		v, err := c.Int()
		if err != nil {
			return n, err
		}
		n += v
	}
	return n, nil
}

// ReplaceAll implements Store.
func (r *RedisStore) ReplaceAll(ctx context.Context, keys []string, value []byte, ttl time.Duration) (int, error) {
	cmds, err := r.evalAll(ctx, replaceScript, oneKeyEach(keys), func(int) []any {
		return []any{value, ttl.Milliseconds()}
	})
	if err != nil {
		return 0, err
	}
	return sumInts(cmds)
}

// Soften implements Store.
func (r *RedisStore) Soften(ctx context.Context, keys []string, nonce uint64, at time.Time) (int, error) {
	var n, ms [8]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	magic := string([]byte{'g', 'q', formatVersion, kindData})
	cmds, err := r.evalAll(ctx, softenScript, oneKeyEach(keys), func(int) []any {
		return []any{n[:], at.UnixMilli(), magic, ms[:]}
	})
	if err != nil {
		return 0, err
	}
	return sumInts(cmds)
}
