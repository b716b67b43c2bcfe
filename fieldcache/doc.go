// Package fieldcache caches the resolved values of the fields of any gqlgen
// schema that carry @cacheControl, through package cache: a hit hands gqlgen
// the same Go value the resolver would have returned, without running it.
package fieldcache
