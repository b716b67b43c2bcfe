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
// is a single command that sets the value and its expiry together.
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

// compareAndSet writes ARGV[2] with expiry ARGV[3] ms only when the key's
// first stampLen bytes equal ARGV[1]; GETRANGE answers "" for a missing key,
// which is the stamp of "nothing stored".
var compareAndSet = redis.NewScript(`
if redis.call('GETRANGE', KEYS[1], 0, 11) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)

// release deletes a lease only while it still holds the caller's token, so a
// slow holder whose lease expired cannot free someone else's.
var release = redis.NewScript(`
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

// CompareAndSet implements Store.
func (r *RedisStore) CompareAndSet(ctx context.Context, key string, stamp, value []byte, ttl time.Duration) (bool, error) {
	n, err := compareAndSet.Run(ctx, r.rdb, []string{key}, stamp, value, ttl.Milliseconds()).Int()
	return n == 1, err
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

// Lease implements Store.
func (r *RedisStore) Lease(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return r.rdb.SetNX(ctx, key, token, ttl).Result()
}

// Release implements Store.
func (r *RedisStore) Release(ctx context.Context, key, token string) error {
	return release.Run(ctx, r.rdb, []string{key}, token).Err()
}

// Ping implements Store.
func (r *RedisStore) Ping(ctx context.Context) error {
	return r.rdb.Ping(ctx).Err()
}

// Describe implements Store.
func (r *RedisStore) Describe() string { return fmt.Sprintf("redis (%s)", r.desc) }
