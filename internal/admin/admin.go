// Package admin decides who may use the service's administrative operations
// (invalidation), the same way for the GraphQL and REST doors.
package admin

import (
	"crypto/subtle"
	"strings"
)

// Authorized reports whether an Authorization header value carries the
// bearer token. An empty token authorizes no one, so invalidation is off
// until an operator sets one. The comparison takes the same time whatever
// the header holds.
func Authorized(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
