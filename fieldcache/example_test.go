package fieldcache_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/examples/catalog/graph"
	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/examples/catalog/resolvers"
	"github.com/gqlcache/gqlcache/fieldcache"
)

// A gqlgen server with the extension: the second request runs neither the
// product's resolver nor its reviews', only the live price's.
func Example() {
	store, err := cache.NewMemoryStore(64 << 20)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	c, err := cache.New(store, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	o, err := origin.New(0, nil)
	if err != nil {
		panic(err)
	}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Origin: o}})
	ext, err := fieldcache.New(es, graph.CacheFields(), c, fieldcache.Options{})
	if err != nil {
		panic(err)
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.Use(ext)
	h := ext.Handler(srv)

	for range 2 {
		body := `{"query":"{ product(id: \"7\") { name price reviews { stars } } }"}`
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	fmt.Println("product:", o.Calls("Query.product"), "reviews:", o.Calls("Product.reviews"), "price:", o.Calls("Product.price"))
	// Output:
	// product: 1 reviews: 1 price: 2
}
