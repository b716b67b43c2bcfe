package gqlhttp

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// mediaType is the response media type negotiated for a request. The
// GraphQL-over-HTTP spec defines two, which differ in the status codes they
// give request errors.
type mediaType uint8

const (
	// mediaJSON is application/json: every answer to a well-formed request
	// is 200, as legacy clients expect.
	mediaJSON mediaType = iota
	// mediaGraphQL is application/graphql-response+json: a request error
	// (the operation could not be executed at all) is 400.
	mediaGraphQL
)

var (
	contentTypeJSON    = []string{"application/json"}
	contentTypeGraphQL = []string{"application/graphql-response+json; charset=utf-8"}
)

func (m mediaType) contentType() []string {
	if m == mediaGraphQL {
		return contentTypeGraphQL
	}
	return contentTypeJSON
}

// requestErrorStatus is the status of an answer without data: the request
// was well formed, but the operation failed parsing, validation, variable
// coercion or one of the limits.
func (m mediaType) requestErrorStatus() int {
	if m == mediaGraphQL {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// negotiate picks the response media type from the Accept header values.
// No Accept header means application/json, as the spec says; ok is false
// when the header names neither type, nor any range that covers one.
//
// Each type takes the quality of the most specific range that matches it
// (RFC 9110, 12.5.1); the higher quality wins, then the more specific
// match, then the one listed first. So "*/*" gives application/json, and
// Apollo Client's "application/graphql-response+json,application/json;q=0.9"
// gives the newer type.
func negotiate(accept []string) (mediaType, bool) {
	switch {
	case len(accept) == 0:
		return mediaJSON, true
	case len(accept) == 1 && (accept[0] == "application/json" || accept[0] == "*/*" || accept[0] == ""):
		return mediaJSON, true
	case len(accept) == 1 && accept[0] == "application/graphql-response+json":
		return mediaGraphQL, true
	}
	js, gql := match{spec: -1}, match{spec: -1}
	pos := 0
	for _, header := range accept {
		for r := range strings.SplitSeq(header, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			pos++
			mt, params, err := mime.ParseMediaType(r)
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			js.offer(mt, "application/json", q, pos)
			gql.offer(mt, "application/graphql-response+json", q, pos)
		}
	}
	switch {
	case js.q <= 0 && gql.q <= 0:
		return mediaJSON, false
	case gql.beats(js):
		return mediaGraphQL, true
	default:
		return mediaJSON, true
	}
}

// match is the best media range an Accept header holds for one type.
type match struct {
	q    float64
	spec int // 2 the exact type, 1 "application/*", 0 "*/*", -1 none
	pos  int // the range's place in the header
}

func (m *match) offer(rng, typ string, q float64, pos int) {
	spec := -1
	switch rng {
	case typ:
		spec = 2
	case "application/*":
		spec = 1
	case "*/*":
		spec = 0
	}
	if spec > m.spec {
		*m = match{q: q, spec: spec, pos: pos}
	}
}

func (m match) beats(o match) bool {
	switch {
	case m.q != o.q:
		return m.q > o.q
	case m.spec != o.spec:
		return m.spec > o.spec
	default:
		return m.pos < o.pos
	}
}
