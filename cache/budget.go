package cache

import (
	"context"
	"errors"
	"time"
)

// budget is what is left of the time one request may spend waiting for the
// store, across all its calls (read, claim, fill, release) and whatever
// retries the client makes inside them. Time spent on the origin is not
// charged: the budget bounds what a slow store adds to a request, and a
// request whose budget is spent goes on without the store, as it would with
// the store down. A background fill gets a budget of its own.
type budget struct{ left time.Duration }

func (c *Cache) newBudget() budget { return budget{left: c.opts.StoreBudget} }

// Why a store call was not made, or counts against the store's health.
var (
	errBudgetSpent = errors.New("cache: the request's store budget is spent")
	errSlowCall    = errors.New("cache: store call slower than the slow-call threshold")
)

// guard runs one store operation within what is left of b and through the
// circuit breaker. While the breaker is open, or once b is spent, the
// operation is not attempted and fails at once, so an unreachable or slow
// store costs a request at most its budget. A call that answers but takes
// longer than SlowCall counts as a failure to the breaker (see
// Options.BreakerFailures): a store that is slow but alive is bypassed like
// a dead one, and probed back the same way.
func guard[T any](ctx context.Context, c *Cache, b *budget, op string, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if b.left <= 0 {
		c.m.storeErrors.WithLabelValues(op).Inc()
		return zero, errBudgetSpent
	}
	done, err := c.breaker.Allow()
	if err != nil {
		c.m.storeErrors.WithLabelValues(op).Inc()
		return zero, err
	}
	cctx, cancel := context.WithTimeout(ctx, b.left)
	start := time.Now()
	v, err := f(cctx)
	took := time.Since(start)
	cancel()
	b.left -= took
	c.m.storeSeconds.Observe(took.Seconds())
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		c.m.storeErrors.WithLabelValues(op).Inc()
		if !errors.Is(err, context.Canceled) {
			c.errorsInARow.Add(1)
		}
		done(err)
	case took > c.opts.SlowCall:
		c.errorsInARow.Store(0)
		c.m.storeSlow.Inc()
		done(errSlowCall)
	default:
		c.errorsInARow.Store(0)
		done(nil)
	}
	return v, err
}

// slowTripCalls is how many calls within a breaker interval it takes before
// their share of slow calls and errors can open the breaker: one call
// delayed by a busy machine says nothing about the store.
const slowTripCalls = 20
