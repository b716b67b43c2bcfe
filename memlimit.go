package main

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// How the service fits the memory it is given. Its heap is the caches'
// bound (which counts what their entries really cost) plus a baseline of a
// few MiB, and the Go GC lets the heap grow to twice what is live before it
// collects, unless a soft memory limit makes it collect sooner. So:
//
//   - In a cgroup with a memory limit, the runtime's soft limit is the limit
//     less 10% or 24 MiB, whichever is more (for what the runtime does not
//     count: the binary's pages, about 17 MiB resident, and the kernel's
//     buffers), and a cache whose bound is not configured gets
//     a fraction of it: a third for the memory store (twice a third, the
//     GC's default reach, stays under the soft limit with the baseline) and
//     an eighth for the near cache, whose copies live a second.
//   - Without a limit, the bounds keep their defaults and the soft limit is
//     the cache's bound and half again, plus 8 MiB for the baseline: the GC
//     then collects before the heap reaches twice the cache, which is what
//     keeps a full cache's process near 1.5 times its bound (never under
//     32 MiB, so that a small cache does not make the GC run all the time).
//   - GOMEMLIMIT, when set (even to "off"), is the operator's and is left
//     alone.
const (
	nonGoShare      = 10       // kept out of the soft limit: the limit / nonGoShare
	nonGoReserve    = 24 << 20 // and at least this
	storeShare      = 3        // the memory store's bound: the limit / storeShare
	nearShare       = 8        // the near cache's bound: the limit / nearShare
	baselineReserve = 8 << 20
	minSoftLimit    = 32 << 20 // a cache of a few MiB still leaves the GC room
)

// memoryFit is what fitMemory found and chose.
type memoryFit struct {
	limit      uint64 // the cgroup's memory limit; 0: none
	limitErr   error  // why the limit could not be read, when that is a fault
	cacheBytes int64  // the bound of the cache in use
	softLimit  int64  // the Go runtime's soft memory limit to set; 0: leave it
	goMemLimit string // GOMEMLIMIT as given
}

// fitMemory reads the cgroup's memory limit through readLimit, sizes the
// caches cfg does not configure from it, and returns the soft limit to set.
// The bounds are configured when getenv has their variables.
func fitMemory(cfg *config, getenv func(string) string, readLimit func() (uint64, error)) memoryFit {
	var f memoryFit
	limit, err := readLimit()
	switch {
	case err == nil:
		f.limit = limit
		cfg.memoryLimit = limit
	case errors.Is(err, memlimit.ErrNoLimit), errors.Is(err, memlimit.ErrNoCgroup), errors.Is(err, memlimit.ErrCgroupsNotSupported):
	default:
		f.limitErr = err
	}
	if f.limit > 0 {
		if getenv("CACHE_MEMORY_BYTES") == "" {
			cfg.memoryBytes = int(max(f.limit/storeShare, 1))
		}
		if getenv("NEAR_CACHE_BYTES") == "" {
			cfg.nearBytes = int(max(f.limit/nearShare, 1))
		}
	}
	f.cacheBytes = int64(cfg.memoryBytes)
	if cfg.redisURL != "" {
		f.cacheBytes = 0
		if cfg.nearTTL > 0 {
			f.cacheBytes = int64(cfg.nearBytes)
		}
	}
	switch f.goMemLimit = getenv("GOMEMLIMIT"); {
	case f.goMemLimit != "":
	case f.limit > 0:
		f.softLimit = int64(max(f.limit-max(f.limit/nonGoShare, nonGoReserve), f.limit/2))
	default:
		f.softLimit = max(f.cacheBytes+f.cacheBytes/2+baselineReserve, minSoftLimit)
	}
	return f
}

// apply sets the runtime's soft memory limit and logs what was found and
// chosen.
func (f memoryFit) apply(cfg config, logger *slog.Logger) {
	goLimit := "GOMEMLIMIT=" + f.goMemLimit
	if f.softLimit > 0 {
		debug.SetMemoryLimit(f.softLimit)
		goLimit = mib(uint64(f.softLimit))
	}
	cgroup := "none"
	if f.limit > 0 {
		cgroup = mib(f.limit)
	}
	if f.limitErr != nil {
		logger.Warn("cannot read the cgroup's memory limit; sizing as if there were none", "err", f.limitErr)
	}
	if f.limit > 0 && uint64(f.cacheBytes) > f.limit/2 {
		logger.Warn("the cache's bound is over half the memory limit: the GC will run often, and the process may be killed",
			"cache_bytes", mib(uint64(f.cacheBytes)), "cgroup_limit", cgroup)
	}
	logger.Info("memory", "cgroup_limit", cgroup, "go_memory_limit", goLimit,
		"cache_memory_bytes", mib(uint64(cfg.memoryBytes)), "near_cache_bytes", mib(uint64(cfg.nearBytes)))
}

func mib(n uint64) string {
	return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
}
