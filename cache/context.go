package cache

import "context"

type ctxKey int

const (
	callerKey ctxKey = iota
	revalidateKey
)

// WithCaller returns a context naming the caller by its credential (such as
// an Authorization header). Only private fields use it, through a hash.
func WithCaller(ctx context.Context, credential string) context.Context {
	return context.WithValue(ctx, callerKey, credential)
}

// WithRevalidate returns a context whose Gets skip the stored copy and fetch
// (coalesced), as a client's Cache-Control: no-cache asks.
func WithRevalidate(ctx context.Context) context.Context {
	return context.WithValue(ctx, revalidateKey, true)
}

func callerFrom(ctx context.Context) string {
	s, _ := ctx.Value(callerKey).(string)
	return s
}

func revalidateFrom(ctx context.Context) bool {
	b, _ := ctx.Value(revalidateKey).(bool)
	return b
}
