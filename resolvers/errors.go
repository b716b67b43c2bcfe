package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/internal/cache"
)

// Error codes clients can rely on, in extensions.code.
const (
	CodeOriginUnavailable = "ORIGIN_UNAVAILABLE"
	CodeOriginTimeout     = "ORIGIN_TIMEOUT"
	CodeForbidden         = "FORBIDDEN"
	CodeStoreUnavailable  = "STORE_UNAVAILABLE"
	CodeInternal          = "INTERNAL_SERVER_ERROR"
	CodeBadUserInput      = "BAD_USER_INPUT"
)

// PresentError turns a resolver's error into what the client sees: a clear
// message and a stable code, never the Go error chain (which may name Redis
// addresses or origin URLs). Errors gqlgen itself raised for the request
// (parsing, validation, argument coercion) pass through as they are.
func PresentError(ctx context.Context, err error) *gqlerror.Error {
	var gerr *gqlerror.Error
	switch {
	case errors.Is(err, cache.ErrOriginTimeout):
		gerr = coded(CodeOriginTimeout, "the origin did not answer in time")
	case errors.Is(err, cache.ErrOriginUnavailable):
		gerr = coded(CodeOriginUnavailable, "the origin is unavailable")
	case errors.Is(err, cache.ErrStoreUnavailable):
		gerr = coded(CodeStoreUnavailable, "the cache store is unavailable; nothing was changed")
	case errors.Is(err, cache.ErrInvalidTag):
		gerr = coded(CodeBadUserInput, err.Error())
	case errors.As(err, &gerr):
		return graphql.DefaultErrorPresenter(ctx, err)
	default:
		gerr = coded(CodeInternal, "internal error")
	}
	gerr.Path = graphql.GetPath(ctx)
	return gerr
}

func coded(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}
