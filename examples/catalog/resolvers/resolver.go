// Package resolvers resolves the catalog example's schema by calling its
// origin. They know nothing of the cache: the fieldcache extension decides,
// field by field, whether a resolver runs at all. What they add for the cache
// is tags (fieldcache.AddTags), so that an invalidation by tag reaches every
// entry that holds the data.
package resolvers

import (
	"context"
	"errors"

	"github.com/gqlcache/gqlcache/examples/catalog/origin"
)

// Resolver is the root resolver; one serves every request.
type Resolver struct {
	Origin *origin.Origin
}

// errSignIn answers a cart asked for without a bearer token. It lives here,
// not in schema.resolvers.go, because gqlgen moves helpers out of the files
// it regenerates.
var errSignIn = errors.New("sign in to see your cart")

type customerKey struct{}

// WithCustomer returns ctx naming the signed-in customer, whose cart the
// cart field answers. The server sets it from the Authorization header.
func WithCustomer(ctx context.Context, customer string) context.Context {
	return context.WithValue(ctx, customerKey{}, customer)
}

// customerFrom returns the customer WithCustomer named, or "".
func customerFrom(ctx context.Context) string {
	c, _ := ctx.Value(customerKey{}).(string)
	return c
}
