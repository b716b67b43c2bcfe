package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The origin's shield: before any origin call the cache checks, in this
// order, that the origin has not asked for a pause (Retry-After), that its
// circuit breaker is closed, and that one of the bounded call slots is free.
// Each refusal is an error a caller can act on: a stale copy is served
// instead when one exists, else the refusal reaches the client with the time
// after which asking again makes sense.

// ErrOriginNotFound is returned by a Get when the origin answered that the
// item does not exist (Fetched.NotFound). That answer is itself cached,
// for at most Options.NegativeTTL.
var ErrOriginNotFound = errors.New("origin has no such item")

// ErrOriginBusy is returned by a Get (inside a *RefusedError) when every
// origin call slot stayed taken for Options.OriginQueueWait and no stale
// copy exists.
var ErrOriginBusy = errors.New("origin busy")

// MaxRetryAfter caps how long an origin's Retry-After keeps the cache from
// calling it: a mistaken "Retry-After: 86400" must not take a service
// down for a day.
const MaxRetryAfter = time.Minute

// busyRetryAfter is what a refusal for want of a slot suggests: slots free
// up within an origin call, so soon.
const busyRetryAfter = time.Second

// RetryAfterError is what a Loader returns when the origin asks for no
// calls for a while (an HTTP upstream's 429 or 503 with Retry-After). The
// cache then makes none for After, at most MaxRetryAfter.
type RetryAfterError struct {
	After time.Duration
	Err   error // the origin's answer
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("origin asks to retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RefusedError is returned by a Get when the cache did not call the origin
// (or the origin asked it to stop) and no stale copy exists. Err is
// ErrOriginBusy (every slot taken) or ErrOriginUnavailable (the origin asked
// for a pause, or its breaker is open); RetryAfter is when asking again
// makes sense.
type RefusedError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: retry after %s", e.Err, e.RetryAfter)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// RetryAfter returns when asking again makes sense, rounded up to whole
// seconds (at least one), if err is a refusal.
func RetryAfter(err error) (seconds int, ok bool) {
	var r *RefusedError
	if !errors.As(err, &r) {
		return 0, false
	}
	return max(1, int((r.RetryAfter+time.Second-1)/time.Second)), true
}

// errExcluded marks an admission that ended before the origin was called,
// which says nothing about the origin's health.
var errExcluded = errors.New("origin not called")

// shield bounds and guards origin calls.
type shield struct {
	slots       chan struct{}
	wait        time.Duration
	cooldown    time.Duration
	breaker     *gobreaker.TwoStepCircuitBreaker[struct{}]
	pausedUntil atomic.Int64 // Unix nanoseconds; the origin asked for no calls before
}

func newShield(c *Cache) *shield {
	o := c.opts
	return &shield{
		slots:    make(chan struct{}, o.OriginMaxInflight),
		wait:     o.OriginQueueWait,
		cooldown: o.OriginBreakerCooldown,
		breaker: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name: "origin",
			// One probe at a time while half-open.
			MaxRequests: 1,
			Timeout:     o.OriginBreakerCooldown,
			ReadyToTrip: func(n gobreaker.Counts) bool {
				return n.ConsecutiveFailures >= o.OriginBreakerFailures
			},
			IsExcluded: func(err error) bool {
				return errors.Is(err, errExcluded) || errors.Is(err, context.Canceled)
			},
			OnStateChange: func(_ string, from, to gobreaker.State) {
				if to == gobreaker.StateClosed {
					c.m.originBreakerOpen.Set(0)
					o.Logger.Info("origin recovered")
					return
				}
				c.m.originBreakerOpen.Set(1)
				if from == gobreaker.StateClosed {
					o.Logger.Warn("origin failing; refusing misses until a probe succeeds", "cooldown", o.OriginBreakerCooldown.String())
				}
			},
		}),
	}
}

// admit decides whether an origin call may start. done frees its slot and
// tells the breaker how the call went (nil or a Fetched.NotFound answer:
// healthy).
func (c *Cache) admit(ctx context.Context) (done func(error), err error) {
	s := c.shield
	if until := s.pausedUntil.Load(); until > 0 {
		if left := time.Unix(0, until).Sub(c.opts.Now()); left > 0 {
			return nil, c.refuse("retry_after", ErrOriginUnavailable, left)
		}
	}
	report, err := s.breaker.Allow()
	if err != nil {
		return nil, c.refuse("breaker", ErrOriginUnavailable, s.cooldown)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		t := time.NewTimer(s.wait)
		defer t.Stop()
		select {
		case s.slots <- struct{}{}:
		case <-t.C:
			report(errExcluded)
			return nil, c.refuse("busy", ErrOriginBusy, busyRetryAfter)
		case <-ctx.Done():
			report(errExcluded)
			return nil, ctx.Err()
		}
	}
	c.m.originInflight.Inc()
	return func(err error) {
		<-s.slots
		c.m.originInflight.Dec()
		report(err)
	}, nil
}

func (c *Cache) refuse(reason string, err error, after time.Duration) error {
	c.m.originRefusals.WithLabelValues(reason).Inc()
	return &RefusedError{Err: err, RetryAfter: after}
}

// pause records an origin's request for no calls during after (capped),
// and returns the refusal its caller gets.
func (c *Cache) pause(after time.Duration) error {
	after = min(max(after, 0), MaxRetryAfter)
	until := c.opts.Now().Add(after).UnixNano()
	for {
		cur := c.shield.pausedUntil.Load()
		if cur >= until || c.shield.pausedUntil.CompareAndSwap(cur, until) {
			break
		}
	}
	return &RefusedError{Err: ErrOriginUnavailable, RetryAfter: after}
}

// OriginBreaker names the state of the origin's circuit breaker: "closed"
// (calls flow), "open" (refused) or "half-open" (one probe at a time).
func (c *Cache) OriginBreaker() string { return c.shield.breaker.State().String() }
