package cache

import "github.com/prometheus/client_golang/prometheus"

// metrics are the cache's Prometheus collectors. Names follow Prometheus
// conventions: a namespace, units in the name, _total on counters.
type metrics struct {
	hits, nearHits, nearDrops, misses, staleServed, coalesced, leaseWaits, corrupt, uncached, oversized prometheus.Counter
	originFetches                                                                                       prometheus.Counter
	originErrors                                                                                        *prometheus.CounterVec
	originSeconds                                                                                       prometheus.Histogram
	storeErrors                                                                                         *prometheus.CounterVec
	storeSeconds                                                                                        prometheus.Histogram
	storeSlow                                                                                           prometheus.Counter
	breakerOpen                                                                                         prometheus.Gauge

	// The origin's shield and its not-found answers.
	notFound                          prometheus.Counter
	originInflight, originBreakerOpen prometheus.Gauge
	originRefusals                    *prometheus.CounterVec

	// Tags and purges.
	tagsDropped, purgedFills prometheus.Counter

	// Batched reads.
	prefetched prometheus.Counter
	purges     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "gqlcache"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	m := &metrics{
		hits:          counter("cache_hits_total", "Answers served fresh from the store."),
		nearHits:      counter("cache_near_hits_total", "Hits answered by the in-process near cache, without a store round trip (also counted in cache_hits_total)."),
		nearDrops:     counter("cache_near_announcements_total", "Writes and invalidations announced by processes sharing the store."),
		misses:        counter("cache_misses_total", "Requests that found no fresh entry and waited for a fill."),
		staleServed:   counter("cache_stale_served_total", "Answers served past their freshness (stale-while-revalidate or stale-if-error)."),
		coalesced:     counter("cache_coalesced_waits_total", "Misses that joined a fill already in flight in this process instead of calling the origin."),
		leaseWaits:    counter("cache_lease_waits_total", "Fills that waited for another process holding the key's lease."),
		corrupt:       counter("cache_corrupt_entries_total", "Stored values that did not decode and were treated as misses."),
		uncached:      counter("cache_uncached_total", "Answers fetched but never stored (private fields without a caller)."),
		oversized:     counter("cache_oversized_total", "Origin answers larger than the entry size limit: served, not stored."),
		notFound:      counter("cache_not_found_total", "Not-found answers served, from a negative entry or from the origin."),
		tagsDropped:   counter("cache_tags_dropped_total", "Tags an origin returned past the bounds (too many, too long or not printable ASCII): dropped from the entry."),
		purgedFills:   counter("cache_purged_fills_total", "Fills not stored because one of their tags was purged after they began."),
		prefetched:    counter("cache_prefetched_keys_total", "Keys read ahead of their Gets in one batched store read (Prefetch), such as a list's cached fields."),
		originFetches: counter("origin_fetches_total", "Calls made to the origin."),
		originErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "origin_errors_total", Help: "Origin calls that failed, by reason (timeout, retry_after: the origin asked for a pause, or error).",
		}, []string{"reason"}),
		originInflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "origin_inflight", Help: "Origin calls under way in this process (at most the configured maximum).",
		}),
		originRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "origin_refusals_total",
			Help: "Origin calls not made, by reason: busy (no free slot in time), retry_after (the origin asked for a pause), breaker (its circuit breaker is open).",
		}, []string{"reason"}),
		originBreakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "origin_breaker_open", Help: "1 while the origin's circuit breaker is open or half-open (misses are refused or served stale), else 0.",
		}),
		originSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "origin_fetch_duration_seconds", Help: "Time the origin took to answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "store_errors_total", Help: "Store operations that failed or were refused by the open circuit breaker, by operation.",
		}, []string{"op"}),
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "store_call_duration_seconds", Help: "Time each store call took, successful or not: what REDIS_TIMEOUT and REDIS_SLOW_CALL are chosen from.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		storeSlow: counter("store_slow_calls_total", "Store calls that answered but slower than the slow-call threshold, counted as failures by the circuit breaker."),
		breakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "store_breaker_open", Help: "1 while the store's circuit breaker is open or half-open (the store is being bypassed), else 0.",
		}),
		purges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cache_purges_total", Help: "Purges done, by what they addressed: key (one query's entry) or tags (every entry carrying them).",
		}, []string{"by"}),
	}
	if reg != nil {
		reg.MustRegister(m.hits, m.nearHits, m.nearDrops, m.misses, m.staleServed, m.coalesced, m.leaseWaits, m.corrupt, m.uncached, m.oversized,
			m.originFetches, m.originErrors, m.originSeconds, m.storeErrors, m.storeSeconds, m.storeSlow, m.breakerOpen,
			m.notFound, m.originInflight, m.originRefusals, m.originBreakerOpen, m.tagsDropped, m.purgedFills, m.purges, m.prefetched)
	}
	// Both series exist from the start, so a rate sees the first purge.
	m.purges.WithLabelValues("key")
	m.purges.WithLabelValues("tags")
	return m
}
