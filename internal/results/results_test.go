package results

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/cache"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		res  cache.Result
		err  error
		want Status
	}{
		{"fresh from the store", cache.Result{Source: cache.SourceCache}, nil, Hit},
		{"past freshness", cache.Result{Source: cache.SourceCache, Stale: true}, nil, Stale},
		{"from the origin", cache.Result{Source: cache.SourceOrigin}, nil, Miss},
		{"joined another's fill", cache.Result{Source: cache.SourceOrigin, Collapsed: true}, nil, Miss},
		{"no such item", cache.Result{}, fmt.Errorf("fill: %w", cache.ErrOriginNotFound), NotFound},
		{"origin refused", cache.Result{}, cache.ErrOriginUnavailable, Error},
		{"client left", cache.Result{}, context.Canceled, Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.res, tt.err); got != tt.want {
				t.Errorf("Of = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := New(reg, "Query.data")
	// Every door's series for the declared field exists before any answer.
	if n := len(samples(t, reg)); n != 2*len(statuses) {
		t.Fatalf("got %d series before traffic; want %d", n, 2*len(statuses))
	}
	c.Count(REST, "Query.data", cache.Result{Source: cache.SourceCache}, nil)
	c.Count(REST, "Query.data", cache.Result{Source: cache.SourceCache}, nil)
	c.Count(GraphQL, "Query.data", cache.Result{}, errors.New("boom"))
	for _, tc := range []struct {
		door   Door
		status Status
		want   float64
	}{{REST, Hit, 2}, {GraphQL, Error, 1}, {GraphQL, Hit, 0}} {
		got := samples(t, reg)[string(tc.door)+" Query.data "+string(tc.status)]
		if got != tc.want {
			t.Errorf("%s %s: got %v; want %v", tc.door, tc.status, got, tc.want)
		}
	}
	var none *Counter
	none.Count(REST, "Query.data", cache.Result{}, nil) // must not panic
}

// samples gathers gqlcache_field_results_total from reg, keyed by its
// door, field and status labels, as a scrape would show them.
func samples(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gqlcache_field_results_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["door"]+" "+l["field"]+" "+l["status"]] = m.GetCounter().GetValue()
		}
	}
	return out
}
