// Package results counts the answers each door gives for each cached
// field, by what the cache did for them: the hit ratio an operator watches,
// per door and per field, without the cache knowing of doors or fields'
// transports.
//
// Labels are bounded: two doors, the schema's cached fields (coordinates
// such as "Query.data", never arguments) and five statuses.
package results

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/cache"
)

// Door is where a request came in.
type Door string

// The doors, as the door label spells them.
const (
	GraphQL Door = "graphql"
	REST    Door = "rest"
)

// Status is what the cache did for one field's answer.
type Status string

// The statuses, as the status label spells them.
const (
	Hit   Status = "hit"   // served fresh from the store (the near cache included)
	Stale Status = "stale" // served past its freshness, while refreshing or because the origin failed
	Miss  Status = "miss"  // fetched from the origin, or from a fill another request led
	// The origin has no such item, from a negative entry or from the
	// origin: an answer, not a failure, whose source the door is not told.
	NotFound Status = "not_found"
	Error    Status = "error" // no answer: the origin failed or refused, or the request ended
)

var statuses = []Status{Hit, Stale, Miss, NotFound, Error}

// Counter counts field results. A nil *Counter counts nothing, so a door
// built without one (in a test) needs no metrics.
type Counter struct{ v *prometheus.CounterVec }

// New registers gqlcache_field_results_total with reg. Every door's series
// for each of fields (schema coordinates) starts at zero, so that a rate
// sees the first answer and a dashboard shows the field before traffic.
func New(reg prometheus.Registerer, fields ...string) *Counter {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gqlcache", Name: "field_results_total",
		Help: "Answers given for a cached field, by door (graphql, rest), field (schema coordinate) and status (hit, stale, miss, not_found, error).",
	}, []string{"door", "field", "status"})
	reg.MustRegister(v)
	for _, d := range []Door{GraphQL, REST} {
		for _, f := range fields {
			for _, s := range statuses {
				v.WithLabelValues(string(d), f, string(s))
			}
		}
	}
	return &Counter{v: v}
}

// Count records the outcome of one cache lookup for field at door: res,
// or err when there was no answer.
func (c *Counter) Count(door Door, field string, res cache.Result, err error) {
	if c == nil {
		return
	}
	c.v.WithLabelValues(string(door), field, string(Of(res, err))).Inc()
}

// Of is the status of a lookup that returned res and err.
func Of(res cache.Result, err error) Status {
	switch {
	case errors.Is(err, cache.ErrOriginNotFound):
		return NotFound
	case err != nil:
		return Error
	case res.Stale:
		return Stale
	case res.Source == cache.SourceCache:
		return Hit
	default:
		return Miss
	}
}
