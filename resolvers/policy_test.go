package resolvers

import (
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/graph"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSchema = `
directive @cacheControl(maxAge: Int, scope: CacheScope) on FIELD_DEFINITION
enum CacheScope { PUBLIC PRIVATE }
type Query {
  plain: String
  long: String @cacheControl(maxAge: 60)
  mine: String @cacheControl(scope: PRIVATE)
  never: String @cacheControl(maxAge: 0)
}`

func TestPoliciesHonourCacheControl(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Name: "test.graphqls", Input: testSchema})
	def := cache.Policy{TTL: 5 * time.Second, Scope: cache.ScopePublic}
	p, err := NewPolicies(schema, def)
	if err != nil {
		t.Fatal(err)
	}
	for coord, want := range map[string]cache.Policy{
		"Query.plain":   def,
		"Query.long":    {TTL: time.Minute, Scope: cache.ScopePublic},
		"Query.mine":    {TTL: 5 * time.Second, Scope: cache.ScopePrivate},
		"Query.never":   {TTL: 0, Scope: cache.ScopePublic},
		"Query.missing": def,
	} {
		if got := p.For(coord); got != want {
			t.Errorf("For(%s) = %+v; want %+v", coord, got, want)
		}
	}
}

func TestShippedSchemaLeavesDataToConfiguration(t *testing.T) {
	def := cache.Policy{TTL: 7 * time.Second, Scope: cache.ScopePrivate}
	p, err := NewPolicies(graph.NewExecutableSchema(graph.Config{}).Schema(), def)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.For(DataField); got != def {
		t.Errorf("For(%s) = %+v; want the configured %+v (data ships without @cacheControl)", DataField, got, def)
	}
}
