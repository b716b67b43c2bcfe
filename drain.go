package main

import (
	"net/http"
	"sync/atomic"
)

// drain is the time between a stop signal and the shutdown proper. A load
// balancer only learns that a replica is leaving from its readiness probe,
// and keeps sending it requests until enough probes have failed; closing
// the listener at once would refuse those. So the replica fails readiness
// and goes on answering, each answer on a connection closed after it, so
// that keep-alive clients and balancers reconnect, to another replica.
type drain struct{ on atomic.Bool }

// begin starts the drain; it never ends, since a shutdown follows it.
func (d *drain) begin() { d.on.Store(true) }

func (d *drain) draining() bool { return d.on.Load() }

// withDrain asks for each connection to close after its answer during the
// drain. Idle connections are left alone: closing one while a client sends
// on it loses that request, and Shutdown closes them once the balancer has
// stopped using them.
func withDrain(d *drain, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
