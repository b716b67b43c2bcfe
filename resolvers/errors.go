package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// PresentError turns a resolver's error into what the client sees: a clear
// message and a stable code, never the Go error chain (which may name Redis
// addresses or origin URLs). Errors gqlgen itself raised for the request
// (parsing, validation, argument coercion) pass through as they are. A
// refusal says in extensions.retryAfter how many seconds to wait before
// asking again.
func PresentError(ctx context.Context, err error) *gqlerror.Error {
	var gerr *gqlerror.Error
	if e, ok := httpapi.CacheError(err); ok {
		gerr = e.GraphQL()
	} else if errors.As(err, &gerr) {
		return graphql.DefaultErrorPresenter(ctx, err)
	} else {
		gerr = httpapi.GraphQLError(httpapi.CodeInternal, "internal error")
	}
	gerr.Path = graphql.GetPath(ctx)
	return gerr
}
