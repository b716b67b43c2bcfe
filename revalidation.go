package main

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/internal/admin"
)

// revalidation is whose Cache-Control: no-cache (or max-age=0, or Pragma:
// no-cache) makes the cache fetch afresh instead of answering from the store.
type revalidation uint8

const (
	revalidateAdmin  revalidation = iota // only requests bearing the admin token
	revalidateNever                      // nobody's
	revalidateAlways                     // everybody's
)

// revalidationPolicy decides whose request to revalidate is honoured
// (CLIENT_REVALIDATION). Shared caches ignore these directives by default:
// a browser's reload sends max-age=0, and honouring every one would let any
// client switch the cache off and reach the origin at will.
type revalidationPolicy struct {
	who               revalidation
	adminToken        string
	honoured, ignored prometheus.Counter
}

func newRevalidationPolicy(who revalidation, adminToken string, reg prometheus.Registerer) *revalidationPolicy {
	asked := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gqlcache", Name: "client_revalidations_total",
		Help: "Requests asking to revalidate (Cache-Control: no-cache or max-age=0, Pragma: no-cache), by outcome: honoured or ignored (CLIENT_REVALIDATION).",
	}, []string{"outcome"})
	reg.MustRegister(asked)
	return &revalidationPolicy{who: who, adminToken: adminToken,
		honoured: asked.WithLabelValues("honoured"), ignored: asked.WithLabelValues("ignored")}
}

// honours reports whether r asks to revalidate and may, counting the asks.
func (p *revalidationPolicy) honours(r *http.Request) bool {
	if !wantsRevalidation(r.Header) {
		return false
	}
	if p.who == revalidateAlways || p.who == revalidateAdmin && admin.Authorized(r.Header.Get("Authorization"), p.adminToken) {
		p.honoured.Inc()
		return true
	}
	p.ignored.Inc()
	return false
}

// wantsRevalidation reads Cache-Control's no-cache and max-age=0. A
// Pragma: no-cache without Cache-Control arrives here as Cache-Control:
// no-cache: net/http's server rewrites it so (RFC 9111, 5.4).
func wantsRevalidation(h http.Header) bool {
	for _, v := range h["Cache-Control"] {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			if strings.EqualFold(d, "no-cache") || strings.EqualFold(d, "max-age=0") {
				return true
			}
		}
	}
	return false
}
