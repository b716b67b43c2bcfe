// Package origin is the catalog example's fake backend: 1,000 deterministic
// products with 3 reviews each, as slow as ORIGIN_LATENCY says, counting
// every call by the GraphQL field it serves. The counts are what a cache is
// judged by: a test (or an outside tester reading catalog_origin_calls_total
// on /metrics) sees how many requests got past the cache to the origin.
package origin

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gqlcache/gqlcache/examples/catalog/graph/model"
)

// Products is how many products the catalog holds, ids "1" to "1000".
const Products = 1000

// ReviewsPerProduct is how many reviews each product has.
const ReviewsPerProduct = 3

// The fields the origin serves, which its calls are counted by.
const (
	FieldProduct  = "Query.product"
	FieldProducts = "Query.products"
	FieldNode     = "Query.node"
	FieldSearch   = "Query.search"
	FieldCart     = "Query.cart"
	FieldReviews  = "Product.reviews"
	FieldPrice    = "Product.price"
)

var fields = []string{FieldProduct, FieldProducts, FieldNode, FieldSearch, FieldCart, FieldReviews, FieldPrice}

// Origin is the fake backend. Its data never changes, except prices, which
// move on every call so that a cached price would show.
type Origin struct {
	latency  time.Duration
	products []model.Product // products[i] has id i+1
	calls    map[string]*atomic.Int64
	counter  *prometheus.CounterVec
}

// LatencyFromEnv reads ORIGIN_LATENCY, a Go duration ("20ms"); unset or empty
// is no latency.
func LatencyFromEnv() (time.Duration, error) {
	v := os.Getenv("ORIGIN_LATENCY")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("ORIGIN_LATENCY=%q: want a duration such as 20ms", v)
	}
	return d, nil
}

// New returns an origin answering after latency, registering
// catalog_origin_calls_total{field} with reg (none if reg is nil).
func New(latency time.Duration, reg prometheus.Registerer) (*Origin, error) {
	o := &Origin{
		latency:  latency,
		products: make([]model.Product, Products),
		calls:    map[string]*atomic.Int64{},
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_origin_calls_total",
			Help: "Calls to the catalog's origin, by the GraphQL field they serve: what the cache let through.",
		}, []string{"field"}),
	}
	for _, f := range fields {
		o.calls[f] = new(atomic.Int64)
		// Every series exists from the start, so a tester's first scrape
		// reads zeros rather than nothing.
		o.counter.WithLabelValues(f)
	}
	if reg != nil {
		if err := reg.Register(o.counter); err != nil {
			return nil, fmt.Errorf("origin: registering its metrics: %w", err)
		}
	}
	for i := range o.products {
		o.products[i] = product(i + 1)
	}
	return o, nil
}

// Calls returns how many times the origin served field ("Query.product").
func (o *Origin) Calls(field string) int64 {
	if c := o.calls[field]; c != nil {
		return c.Load()
	}
	return 0
}

// call counts a call for field and waits the latency, as a remote backend
// would, giving up when the request does.
func (o *Origin) call(ctx context.Context, field string) (int64, error) {
	n := o.calls[field].Add(1)
	o.counter.WithLabelValues(field).Inc()
	if o.latency > 0 {
		t := time.NewTimer(o.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

// Product returns the product id, or nil when there is none.
func (o *Origin) Product(ctx context.Context, id string) (*model.Product, error) {
	if _, err := o.call(ctx, FieldProduct); err != nil {
		return nil, err
	}
	return o.lookup(id), nil
}

// Products returns the first products, in id order.
func (o *Origin) Products(ctx context.Context, first int) ([]*model.Product, error) {
	if _, err := o.call(ctx, FieldProducts); err != nil {
		return nil, err
	}
	if first < 0 {
		return nil, fmt.Errorf("first must not be negative")
	}
	first = min(first, len(o.products))
	out := make([]*model.Product, first)
	for i := range out {
		out[i] = o.copyOf(i)
	}
	return out, nil
}

// Node returns the product or review id, or nil when there is none.
func (o *Origin) Node(ctx context.Context, id string) (model.Node, error) {
	if _, err := o.call(ctx, FieldNode); err != nil {
		return nil, err
	}
	if p := o.lookup(id); p != nil {
		return p, nil
	}
	if r := o.review(id); r != nil {
		return r, nil
	}
	return nil, nil
}

// maxResults bounds a search, as a real search backend pages.
const maxResults = 20

// Search returns the products whose name and the reviews whose body contain
// text, ignoring case, products first, at most 20.
func (o *Origin) Search(ctx context.Context, text string) ([]model.SearchResult, error) {
	if _, err := o.call(ctx, FieldSearch); err != nil {
		return nil, err
	}
	text = strings.ToLower(text)
	var out []model.SearchResult
	for i := range o.products {
		if len(out) == maxResults {
			return out, nil
		}
		if strings.Contains(strings.ToLower(o.products[i].Name), text) {
			out = append(out, o.copyOf(i))
		}
	}
	for i := range o.products {
		for _, r := range reviews(i + 1) {
			if len(out) == maxResults {
				return out, nil
			}
			if strings.Contains(strings.ToLower(r.Body), text) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Cart returns customer's cart: three products chosen from the customer's
// name, so that each customer has a cart of their own and always the same.
// Its total is at list prices, as of when the cart was read, not the live
// prices the items' price fields answer.
func (o *Origin) Cart(ctx context.Context, customer string) (*model.Cart, error) {
	if _, err := o.call(ctx, FieldCart); err != nil {
		return nil, err
	}
	h := fnv.New32a()
	h.Write([]byte(customer))
	seed := int(h.Sum32() % Products)
	cart := &model.Cart{}
	cents := 0
	for k := range 3 {
		i := (seed + k*337) % Products
		cart.Items = append(cart.Items, o.copyOf(i))
		cents += listCents(i + 1)
	}
	// Summed in cents: floats would answer 51.870000000000005.
	cart.Total = float64(cents) / 100
	return cart, nil
}

// Reviews returns the reviews of the product productID.
func (o *Origin) Reviews(ctx context.Context, productID string) ([]*model.Review, error) {
	if _, err := o.call(ctx, FieldReviews); err != nil {
		return nil, err
	}
	n, ok := productNumber(productID)
	if !ok {
		return nil, nil
	}
	return reviews(n), nil
}

// Price returns the current price of the product productID: its list price
// plus a few cents that change on every call, as a live price feed would,
// so that a test sees a price served from a cache.
func (o *Origin) Price(ctx context.Context, productID string) (float64, error) {
	n, err := o.call(ctx, FieldPrice)
	if err != nil {
		return 0, err
	}
	p, ok := productNumber(productID)
	if !ok {
		return 0, fmt.Errorf("no product %q", productID)
	}
	return float64(listCents(p)+int(n%100)) / 100, nil
}

// lookup returns a copy of the product id, or nil. Copies, so that a
// resolver may not change the catalog.
func (o *Origin) lookup(id string) *model.Product {
	n, ok := productNumber(id)
	if !ok {
		return nil
	}
	return o.copyOf(n - 1)
}

func (o *Origin) copyOf(i int) *model.Product {
	p := o.products[i]
	return &p
}

func (o *Origin) review(id string) *model.Review {
	rest, ok := strings.CutPrefix(id, "review-")
	if !ok {
		return nil
	}
	ps, ks, ok := strings.Cut(rest, "-")
	if !ok {
		return nil
	}
	p, ok := productNumber(ps)
	k, err := strconv.Atoi(ks)
	if !ok || err != nil || k < 1 || k > ReviewsPerProduct {
		return nil
	}
	return reviews(p)[k-1]
}

// productNumber parses a product id, "1" to "1000".
func productNumber(id string) (int, bool) {
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || n > Products || strconv.Itoa(n) != id {
		return 0, false
	}
	return n, true
}

var (
	categories  = []model.Category{model.CategoryBooks, model.CategoryGames, model.CategoryTools}
	adjectives  = []string{"Classic", "Compact", "Deluxe", "Handy", "Modern", "Rugged", "Vintage", "Wooden"}
	nouns       = map[model.Category][]string{model.CategoryBooks: {"Atlas", "Cookbook", "Novel", "Poems"}, model.CategoryGames: {"Chess", "Puzzle", "Racer", "Quest"}, model.CategoryTools: {"Hammer", "Saw", "Wrench", "Drill"}}
	reviewWords = []string{"Great", "Fine", "Disappointing", "Solid", "Superb"}
	epoch       = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

// product builds product n, the same on every run.
func product(n int) model.Product {
	c := categories[n%len(categories)]
	p := model.Product{
		ID:       strconv.Itoa(n),
		Name:     fmt.Sprintf("%s %s %d", adjectives[n%len(adjectives)], nouns[c][(n/len(categories))%len(nouns[c])], n),
		Category: c,
	}
	// Every tenth product is not released yet: releasedAt is null.
	if n%10 != 0 {
		t := epoch.AddDate(0, 0, n)
		p.ReleasedAt = &t
	}
	return p
}

// reviews builds the reviews of product n, ids "review-<n>-1" to "-3".
func reviews(n int) []*model.Review {
	out := make([]*model.Review, ReviewsPerProduct)
	for k := range out {
		stars := 1 + (n+k)%5
		out[k] = &model.Review{
			ID:    fmt.Sprintf("review-%d-%d", n, k+1),
			Stars: stars,
			Body:  fmt.Sprintf("%s product, %d stars.", reviewWords[stars-1], stars),
		}
	}
	return out
}

// listCents is product n's price in cents before the live feed moves it.
func listCents(n int) int { return 500 + n*37%5000 }
