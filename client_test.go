package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/client"
)

// bearerTransport sends the admin token with every request, the way a Go
// caller gives the generated client its credentials.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// typedClient is the generated client pointed at s, sending token when it
// is not empty.
func typedClient(s *service, token string) graphql.Client {
	hc := http.DefaultClient
	if token != "" {
		hc = &http.Client{Transport: bearerTransport{token}}
	}
	return graphql.NewClient(s.url+"/graphql", hc)
}

// gqlCode is the extensions.code of the one GraphQL error in err.
func gqlCode(err error) string {
	var list gqlerror.List
	if !errors.As(err, &list) || len(list) != 1 {
		return ""
	}
	code, _ := list[0].Extensions["code"].(string)
	return code
}

func TestTypedClientDatabaseThenCache(t *testing.T) {
	s := startService(t, redisEnv(t))
	gql := typedClient(s, "")
	ctx := context.Background()

	first, err := client.GetData(ctx, gql, "weather:paris")
	if err != nil {
		t.Fatal(err)
	}
	a := first.Data
	if a.Source != client.SourceDatabase || a.Stale || a.ExpiresInSeconds != 5 {
		t.Fatalf("first call: %+v; want DATABASE, not stale, 5 seconds left", a)
	}
	if a.CachedAt.Location() != time.UTC || !a.CachedAt.Equal(a.CachedAt.Truncate(time.Millisecond)) || time.Since(a.CachedAt) > time.Minute {
		t.Errorf("cachedAt %v: want a recent instant in UTC, to the millisecond", a.CachedAt)
	}
	var sentence string
	if err := json.Unmarshal(a.Data, &sentence); err != nil || !strings.HasPrefix(sentence, "Hello, this is fresh data at ") {
		t.Errorf("data %s: want the origin's JSON string (%v)", a.Data, err)
	}

	second, err := client.GetData(ctx, gql, "weather:paris")
	if err != nil {
		t.Fatal(err)
	}
	b := second.Data
	if b.Source != client.SourceCache || b.Stale || !b.CachedAt.Equal(a.CachedAt) || !bytes.Equal(b.Data, a.Data) {
		t.Errorf("second call: %s at %v with %s; want CACHE at %v with the same data", b.Source, b.CachedAt, b.Data, a.CachedAt)
	}
	if b.ExpiresInSeconds < 1 || b.ExpiresInSeconds > 5 {
		t.Errorf("second call: expiresInSeconds %d; want 1..5", b.ExpiresInSeconds)
	}
}

func TestTypedClientInvalidateNeedsTheAdminToken(t *testing.T) {
	const token = "s3cret"
	s := startService(t, redisEnv(t, "ADMIN_TOKEN", token))
	ctx := context.Background()
	anon, admin := typedClient(s, ""), typedClient(s, token)

	first, err := client.GetData(ctx, anon, "weather:paris")
	if err != nil {
		t.Fatal(err)
	}
	for name, gql := range map[string]graphql.Client{"no token": anon, "wrong token": typedClient(s, "wrong")} {
		if _, err := client.Invalidate(ctx, gql, "weather:paris"); gqlCode(err) != "FORBIDDEN" {
			t.Errorf("invalidate with %s: error %v; want one FORBIDDEN error", name, err)
		}
	}
	kept, err := client.GetData(ctx, anon, "weather:paris")
	if err != nil || kept.Data.Source != client.SourceCache || !kept.Data.CachedAt.Equal(first.Data.CachedAt) {
		t.Fatalf("after refused invalidations: %+v, %v; want the entry untouched", kept, err)
	}

	res, err := client.Invalidate(ctx, admin, "weather:paris")
	if err != nil || !res.Invalidate {
		t.Fatalf("invalidate with the token: %+v, %v; want true", res, err)
	}
	after, err := client.GetData(ctx, anon, "weather:paris")
	if err != nil || after.Data.Source != client.SourceDatabase {
		t.Errorf("after invalidate: %+v, %v; want DATABASE", after, err)
	}
	res, err = client.Invalidate(ctx, admin, "never-asked")
	if err != nil || res.Invalidate {
		t.Errorf("invalidate of nothing stored: %+v, %v; want false", res, err)
	}
}
