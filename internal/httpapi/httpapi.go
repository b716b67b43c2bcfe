// Package httpapi is the service's HTTP vocabulary, shared by every door
// (GraphQL, the REST shim, the service's own routes): the error codes
// clients can rely on and the HTTP status each stands for, the JSON error
// body of the non-GraphQL answers, what a cache failure is called, and the
// Cache-Control header an answer's freshness gives.
//
// A new code is one constant and one line of the status table.
package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/cache"
)

// Code is an error code, sent as "code" in REST error bodies and as
// extensions.code in GraphQL errors.
type Code = string

// The codes this service sends. GraphQL's own (GRAPHQL_PARSE_FAILED,
// GRAPHQL_VALIDATION_FAILED, PERSISTED_QUERY_NOT_FOUND) are gqlgen's.
//
// Bad input has one code per door, because each door has one code for it:
// over REST every bad parameter is CodeBadRequest; over GraphQL every bad
// argument value, written in the document or sent as a variable, is
// CodeBadUserInput, Apollo's standard code (a literal of the wrong type is
// an invalid document, GRAPHQL_VALIDATION_FAILED, as in Apollo). A rule of
// the cache (an invalid tag) is bad input like any other: CacheError gives
// the REST code, and Error.GraphQL turns it into GraphQL's.
const (
	// The request is not one the endpoint can take.
	CodeBadRequest       Code = "BAD_REQUEST"
	CodeCSRF             Code = "CSRF_PREFLIGHT_REQUIRED"
	CodeUnauthorized     Code = "UNAUTHORIZED"
	CodeForbidden        Code = "FORBIDDEN"
	CodeNotFound         Code = "NOT_FOUND"
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	CodeNotAcceptable    Code = "NOT_ACCEPTABLE"
	CodePayloadTooLarge  Code = "PAYLOAD_TOO_LARGE"
	CodeURITooLong       Code = "URI_TOO_LONG"
	CodeUnsupportedMedia Code = "UNSUPPORTED_MEDIA_TYPE"

	// Trusted documents.
	CodeDocumentNotFound Code = "PERSISTED_DOCUMENT_NOT_FOUND"
	CodeTrustedOnly      Code = "TRUSTED_DOCUMENT_REQUIRED"

	// The operation is refused before it runs (GraphQL request errors).
	CodeBadUserInput     Code = "BAD_USER_INPUT"
	CodeDepthLimit       Code = "DEPTH_LIMIT_EXCEEDED"
	CodeAliasLimit       Code = "ALIAS_LIMIT_EXCEEDED"
	CodeRootFieldLimit   Code = "ROOT_FIELD_LIMIT_EXCEEDED"
	CodeComplexityLimit  Code = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeIntrospectionOff Code = "INTROSPECTION_DISABLED"

	// The service could not answer.
	CodeInternal          Code = "INTERNAL_SERVER_ERROR"
	CodeOriginUnavailable Code = "ORIGIN_UNAVAILABLE"
	CodeOriginTimeout     Code = "ORIGIN_TIMEOUT"
	CodeOriginBusy        Code = "ORIGIN_BUSY"
	CodeStoreUnavailable  Code = "STORE_UNAVAILABLE"
)

// statuses is the HTTP status each code stands for where the answer's
// status is the error's own: every REST error, and GraphQL refusals of a
// request that is not well formed. (A GraphQL error of a well-formed
// request follows the GraphQL-over-HTTP spec instead: see gqlhttp.)
var statuses = map[Code]int{
	CodeBadRequest:        http.StatusBadRequest,
	CodeCSRF:              http.StatusBadRequest,
	CodeUnauthorized:      http.StatusUnauthorized,
	CodeForbidden:         http.StatusForbidden,
	CodeNotFound:          http.StatusNotFound,
	CodeMethodNotAllowed:  http.StatusMethodNotAllowed,
	CodeNotAcceptable:     http.StatusNotAcceptable,
	CodePayloadTooLarge:   http.StatusRequestEntityTooLarge,
	CodeURITooLong:        http.StatusRequestURITooLong,
	CodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	CodeDocumentNotFound:  http.StatusBadRequest,
	CodeTrustedOnly:       http.StatusForbidden,
	CodeBadUserInput:      http.StatusBadRequest,
	CodeDepthLimit:        http.StatusBadRequest,
	CodeAliasLimit:        http.StatusBadRequest,
	CodeRootFieldLimit:    http.StatusBadRequest,
	CodeComplexityLimit:   http.StatusBadRequest,
	CodeIntrospectionOff:  http.StatusBadRequest,
	CodeInternal:          http.StatusInternalServerError,
	CodeOriginUnavailable: http.StatusBadGateway,
	CodeOriginTimeout:     http.StatusGatewayTimeout,
	CodeOriginBusy:        http.StatusServiceUnavailable,
	CodeStoreUnavailable:  http.StatusServiceUnavailable,
}

// Status is the HTTP status code stands for; 500 for a code it does not
// know, which is a bug that should show.
func Status(code Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is the JSON error body of every answer that is not GraphQL's.
type Error struct {
	Message string `json:"error"`
	Code    Code   `json:"code"`
	// RequestID names the request in the logs, for errors a user reports.
	RequestID string `json:"request_id,omitempty"`
	// RetryAfter, when positive, is the whole seconds after which asking
	// again makes sense: the answer is then a refusal, 503 with a
	// Retry-After header, whatever its code.
	RetryAfter int `json:"-"`
}

// Write sends e with its code's status. Errors are never stored by caches.
func (e Error) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	status := Status(e.Code)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
		status = http.StatusServiceUnavailable
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// WriteError sends the error body of code and msg with code's status.
func WriteError(w http.ResponseWriter, code Code, msg string) {
	Error{Message: msg, Code: code}.Write(w)
}

// GraphQLError is a GraphQL error carrying code in extensions.code.
func GraphQLError(code Code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// GraphQL is e as a GraphQL error: bad input is BAD_USER_INPUT there, and a
// refusal says in extensions.retryAfter how many seconds to wait.
func (e Error) GraphQL() *gqlerror.Error {
	code := e.Code
	if code == CodeBadRequest {
		code = CodeBadUserInput
	}
	gerr := GraphQLError(code, e.Message)
	if e.RetryAfter > 0 {
		gerr.Extensions["retryAfter"] = e.RetryAfter
	}
	return gerr
}

// CacheError names an error of cache.Get, cache.Invalidate or
// cache.InvalidateTags for clients, as the REST door sends it (Error.GraphQL
// gives the GraphQL form): its code, a message that never carries the Go
// error chain (which may name Redis addresses or origin URLs) and, for a
// refusal, when to ask again. ok is false for an error the cache did not
// raise.
func CacheError(err error) (e Error, ok bool) {
	switch {
	case errors.Is(err, cache.ErrOriginNotFound):
		e = Error{Code: CodeNotFound, Message: "the origin has no such item"}
	case errors.Is(err, cache.ErrOriginBusy):
		e = Error{Code: CodeOriginBusy, Message: "the origin is busy; try again shortly"}
	case errors.Is(err, cache.ErrOriginTimeout):
		e = Error{Code: CodeOriginTimeout, Message: "the origin did not answer in time"}
	case errors.Is(err, cache.ErrOriginUnavailable):
		e = Error{Code: CodeOriginUnavailable, Message: "the origin is unavailable"}
	case errors.Is(err, cache.ErrStoreUnavailable):
		e = Error{Code: CodeStoreUnavailable, Message: "the cache store is unavailable; nothing was changed"}
	case errors.Is(err, cache.ErrInvalidTag):
		// The message names the tag and the rule it breaks: the client's own input.
		e = Error{Code: CodeBadRequest, Message: err.Error()}
	default:
		return Error{}, false
	}
	if secs, ok := cache.RetryAfter(err); ok {
		e.RetryAfter = secs
		if e.Code == CodeOriginUnavailable {
			e.Message = "the origin is unavailable; try again later"
		}
	}
	return e, true
}
