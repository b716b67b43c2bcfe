package main

import (
	"errors"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

func TestFitMemory(t *testing.T) {
	const mib = 1 << 20
	limit := func(n uint64, err error) func() (uint64, error) {
		return func() (uint64, error) { return n, err }
	}
	for _, tc := range []struct {
		name                  string
		env                   []string
		limit                 func() (uint64, error)
		store, near, soft     int64
		limitFound, limitFail bool
	}{
		{"no limit: defaults, GC held to the store and half again", nil,
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 104 * mib, false, false},
		{"not in a cgroup", nil,
			limit(0, memlimit.ErrNoCgroup), 64 * mib, 16 * mib, 104 * mib, false, false},
		{"no limit, configured store", []string{"CACHE_MEMORY_BYTES", "16777216"},
			limit(0, memlimit.ErrNoLimit), 16 * mib, 16 * mib, 32 * mib, false, false},
		{"no limit, Redis: the near cache is the one in use", []string{"REDIS_URL", "redis://127.0.0.1:6379"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 32 * mib, false, false},
		{"no limit, Redis without a near cache", []string{"REDIS_URL", "redis://127.0.0.1:6379", "NEAR_CACHE_TTL", "0s"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 32 * mib, false, false},
		{"160 MiB container: a third, an eighth, the rest less 10%", nil,
			limit(160*mib, nil), 160 * mib / 3, 20 * mib, 136 * mib, true, false},
		{"64 MiB container: 24 MiB kept for the binary and the kernel", nil,
			limit(64*mib, nil), 64 * mib / 3, 8 * mib, 40 * mib, true, false},
		{"container, configured bounds win", []string{"CACHE_MEMORY_BYTES", "33554432", "NEAR_CACHE_BYTES", "1048576"},
			limit(160*mib, nil), 32 * mib, 1 * mib, 136 * mib, true, false},
		{"container, GOMEMLIMIT given: the runtime's limit is left alone", []string{"GOMEMLIMIT", "100MiB"},
			limit(1024*mib, nil), 1024 * mib / 3, 128 * mib, 0, true, false},
		{"GOMEMLIMIT=off is given too", []string{"GOMEMLIMIT", "off"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 0, false, false},
		{"unreadable limit: as if none, reported", nil,
			limit(0, errors.New("permission denied")), 64 * mib, 16 * mib, 104 * mib, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := env(tc.env...)
			cfg, err := loadConfig(getenv)
			if err != nil {
				t.Fatal(err)
			}
			f := fitMemory(&cfg, getenv, tc.limit)
			if int64(cfg.memoryBytes) != tc.store || int64(cfg.nearBytes) != tc.near || f.softLimit != tc.soft {
				t.Errorf("got store %d, near cache %d, soft limit %d; want %d, %d, %d",
					cfg.memoryBytes, cfg.nearBytes, f.softLimit, tc.store, tc.near, tc.soft)
			}
			if (f.limit > 0) != tc.limitFound || (f.limitErr != nil) != tc.limitFail {
				t.Errorf("got limit %d, error %v; want found %t, failed %t", f.limit, f.limitErr, tc.limitFound, tc.limitFail)
			}
		})
	}
}
