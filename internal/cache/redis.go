package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store on rdb; desc names where it is (an address,
// never a password) for logs and readiness.
func NewRedisStore(rdb redis.UniversalClient, desc string) *RedisStore {
	return &RedisStore{rdb: rdb, desc: desc}
}

// OpenRedis connects to the Redis that rawURL names (redis:// or rediss://)
// with every command, dial and pool wait bounded by timeout and at most one
// retry: a slow Redis must cost a request little, since to the cache a
// failed store read is only a miss.
func OpenRedis(rawURL string, timeout time.Duration) (*RedisStore, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL may carry a password: it is not repeated.
		return nil, errors.New("cannot parse the Redis URL: want redis://[user:password@]host:port[/db] or rediss://")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	opt.MaxRetries = 1
	opt.DialerRetries = 1
	return NewRedisStore(redis.NewClient(opt), fmt.Sprintf("%s db %d", opt.Addr, opt.DB)), nil
}

// Close closes the connection pool.
func (r *RedisStore) Close() error { return r.rdb.Close() }

func leaseKey(key string) string { return key + ":lease" }

// claimScript returns the entry's value and whether the lease was taken.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local got = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
return {v, got and 1 or 0}`)

// fillScript writes ARGV[2] with expiry ARGV[3] ms only when the key's first 12
// bytes (stampLen) equal ARGV[1]; GETRANGE answers "" for a missing key,
// which is the stamp of "nothing stored". It then frees the lease if
// ARGV[4] still holds it.
var fillScript = redis.NewScript(`
local stored = 0
if redis.call('GETRANGE', KEYS[1], 0, 11) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  stored = 1
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
end
return stored`)

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

// Claim implements Store.
func (r *RedisStore) Claim(ctx context.Context, key, token string, leaseTTL time.Duration) (Claim, error) {
	res, err := claimScript.Run(ctx, r.rdb, []string{key, leaseKey(key)}, token, leaseTTL.Milliseconds()).Slice()
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
	err := r.rdb.SetArgs(ctx, key, value, redis.SetArgs{TTL: ttl, Get: true}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Ping implements Store.
func (r *RedisStore) Ping(ctx context.Context) error {
	return r.rdb.Ping(ctx).Err()
}

// Describe implements Store.
func (r *RedisStore) Describe() string { return fmt.Sprintf("redis (%s)", r.desc) }
