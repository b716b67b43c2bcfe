package origin_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
)

// temperatures is an origin of one's own: anything with a Fetch method
// that answers a query with one JSON value and what it says about keeping
// it. An unknown city is an answer too (NotFound, cached briefly); each
// reading is tagged with its city, so that a new reading can purge every
// answer made from the old one.
type temperatures map[string]float64

func (t temperatures) Fetch(_ context.Context, req origin.Request) (cache.Fetched, error) {
	city := req.Query
	c, ok := t[city]
	if !ok {
		return cache.Fetched{NotFound: true}, nil
	}
	return cache.Fetched{
		Data: []byte(`{"city":` + strconv.Quote(city) + `,"celsius":` + strconv.FormatFloat(c, 'f', 1, 64) + `}`),
		Tags: []string{"city:" + city},
	}, nil
}

var _ origin.Origin = temperatures(nil)

func Example() {
	var o origin.Origin = temperatures{"paris": 12.5}

	store, _ := cache.NewMemoryStore(1 << 20)
	defer store.Close()
	c, _ := cache.New(store, cache.Options{})
	defer c.Close()

	get := func(city string) {
		q := cache.Query{Field: "Query.data", Args: map[string]any{"query": city}, Policy: cache.Policy{TTL: 5 * time.Second}}
		res, err := c.Get(context.Background(), q, func(ctx context.Context) (cache.Fetched, error) { return o.Fetch(ctx, origin.Request{Query: city}) })
		if err != nil {
			fmt.Println("not found:", errors.Is(err, cache.ErrOriginNotFound))
			return
		}
		fmt.Println(res.Source == cache.SourceCache, string(res.Data), res.Tags())
	}
	get("paris")
	get("paris")
	if _, err := c.InvalidateTags(context.Background(), []string{"city:paris"}, false); err != nil {
		fmt.Println(err)
	}
	get("paris")
	get("atlantis")
	// Output:
	// false {"city":"paris","celsius":12.5} [city:paris]
	// true {"city":"paris","celsius":12.5} [city:paris]
	// false {"city":"paris","celsius":12.5} [city:paris]
	// not found: true
}
