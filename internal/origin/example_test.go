package origin_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gqlcache/gqlcache/internal/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

// temperatures is an origin of one's own: anything with a Fetch method
// that answers a query with one JSON value.
type temperatures map[string]float64

func (t temperatures) Fetch(_ context.Context, city string) (cache.Fetched, error) {
	c, ok := t[city]
	if !ok {
		return cache.Fetched{}, fmt.Errorf("no station in %s", city)
	}
	return cache.Fetched{Data: []byte(`{"city":` + strconv.Quote(city) + `,"celsius":` + strconv.FormatFloat(c, 'f', 1, 64) + `}`)}, nil
}

var _ origin.Origin = temperatures(nil)

func Example() {
	var o origin.Origin = temperatures{"paris": 12.5}

	store, _ := cache.NewMemoryStore(1 << 20)
	defer store.Close()
	c, _ := cache.New(store, cache.Options{})
	defer c.Close()

	q := cache.Query{Field: "Query.data", Args: map[string]any{"query": "paris"}, Policy: cache.Policy{TTL: 5 * time.Second}}
	load := func(ctx context.Context) (cache.Fetched, error) { return o.Fetch(ctx, "paris") }
	for range 2 {
		res, err := c.Get(context.Background(), q, load)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Source == cache.SourceCache, string(res.Data))
	}
	// Output:
	// false {"city":"paris","celsius":12.5}
	// true {"city":"paris","celsius":12.5}
}
