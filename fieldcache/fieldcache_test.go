package fieldcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/fieldcache"
)

// everyKind selects every kind of type the catalog caches: objects with an
// enum, a custom scalar and a nullable field, a list, an interface answered
// by both its implementations, a union, a null answer and a private field.
const everyKind = `query Every($missing: ID!) {
  product(id: "7") { id name category releasedAt price reviews { id stars body } }
  unreleased: product(id: "10") { id name releasedAt }
  missing: product(id: $missing) { id name }
  products(first: 3) { id name category releasedAt reviews { id stars } }
  productNode: node(id: "5") { __typename id ... on Product { name category releasedAt } }
  reviewNode: node(id: "review-5-2") { __typename id ... on Review { stars body } }
  products_found: search(text: "hammer") { __typename ... on Product { id name category } ... on Review { id stars } }
  reviews_found: search(text: "superb") { __typename ... on Product { id name } ... on Review { id stars body } }
  cart { items { id name category } total }
}`

// A hit must hand gqlgen the very values the resolvers gave it, whatever
// their type, so the second answer is the first byte for byte but for the
// price, which is live, and costs the origin nothing but that price.
func TestTypedRoundTrips(t *testing.T) {
	eachStore(t, allStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		vars := map[string]any{"missing": "4242"}
		first := mustOK(t, e.post(everyKind, vars, "Authorization: Bearer alice"))
		cold := e.calls(allFields...)
		second := mustOK(t, e.post(everyKind, vars, "Authorization: Bearer alice"))
		warm := e.calls(allFields...)

		if a, b := withoutPrices(first.body), withoutPrices(second.body); !bytes.Equal(a, b) {
			t.Errorf("second response differs from the first (prices aside):\nfirst:  %s\nsecond: %s", a, b)
		}
		if bytes.Equal(first.body, second.body) {
			t.Errorf("the live price is the same in both responses: was it served from the cache?\n%s", first.body)
		}
		for _, f := range allFields {
			want := cold[f]
			if f == origin.FieldPrice {
				want++
			}
			if warm[f] != want {
				t.Errorf("origin calls for %s: %d after the first request, %d after the second; want %d", f, cold[f], warm[f], want)
			}
		}
		wantCold := map[string]int64{origin.FieldProduct: 3, origin.FieldProducts: 1, origin.FieldNode: 2, origin.FieldSearch: 2, origin.FieldCart: 1, origin.FieldReviews: 4, origin.FieldPrice: 1}
		if !reflect.DeepEqual(cold, wantCold) {
			t.Errorf("origin calls for the first request = %v; want %v", cold, wantCold)
		}

		// What came back is what the catalog holds, typed as the schema says.
		var got struct {
			Product struct {
				ID, Name, Category string
				ReleasedAt         *string
				Reviews            []struct{ ID string }
			}
			Unreleased              struct{ ReleasedAt *string }
			Missing                 *struct{ ID string }
			Products                []struct{ ID string }
			ProductNode, ReviewNode struct {
				Typename string `json:"__typename"`
				ID       string
			}
			ProductsFound []struct {
				Typename string `json:"__typename"`
			} `json:"products_found"`
			ReviewsFound []struct {
				Typename string `json:"__typename"`
			} `json:"reviews_found"`
			Cart struct {
				Items []struct{ ID string }
				Total float64
			}
		}
		data, _ := json.Marshal(second.Data)
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		p := got.Product
		if p.ID != "7" || !strings.HasSuffix(p.Name, " 7") || p.Category != "GAMES" || p.ReleasedAt == nil || !strings.HasPrefix(*p.ReleasedAt, "2020-01-08T00:00:00") || len(p.Reviews) != 3 || p.Reviews[2].ID != "review-7-3" {
			t.Errorf("product 7 from the cache = %+v", p)
		}
		if got.Unreleased.ReleasedAt != nil {
			t.Errorf("product 10 is not released, yet releasedAt = %q", *got.Unreleased.ReleasedAt)
		}
		if got.Missing != nil {
			t.Errorf("product 4242 does not exist, yet the cache answered %+v", got.Missing)
		}
		if len(got.Products) != 3 || got.Products[2].ID != "3" {
			t.Errorf("products(first: 3) = %+v", got.Products)
		}
		if got.ProductNode.Typename != "Product" || got.ProductNode.ID != "5" || got.ReviewNode.Typename != "Review" || got.ReviewNode.ID != "review-5-2" {
			t.Errorf("nodes from the cache: %+v and %+v", got.ProductNode, got.ReviewNode)
		}
		for _, r := range got.ProductsFound {
			if r.Typename != "Product" {
				t.Errorf("search(hammer) from the cache holds a %s", r.Typename)
			}
		}
		for _, r := range got.ReviewsFound {
			if r.Typename != "Review" {
				t.Errorf("search(superb) from the cache holds a %s", r.Typename)
			}
		}
		if len(got.ProductsFound) == 0 || len(got.ReviewsFound) == 0 {
			t.Errorf("searches found %d products and %d reviews", len(got.ProductsFound), len(got.ReviewsFound))
		}
		if len(got.Cart.Items) != 3 || got.Cart.Total <= 0 {
			t.Errorf("alice's cart from the cache = %+v", got.Cart)
		}
	})
}

// A cached list with a live field inside: the list and its cached children
// come from the cache, the live prices from the origin, one per product.
func TestPartialCaching(t *testing.T) {
	eachStore(t, allStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		const q = `{ products(first: 5) { id name price reviews { stars } } }`
		first := mustOK(t, e.post(q, nil))
		before := e.calls(allFields...)
		second := mustOK(t, e.post(q, nil))
		after := e.calls(allFields...)
		for f, want := range map[string]int64{origin.FieldProducts: 0, origin.FieldReviews: 0, origin.FieldPrice: 5} {
			if d := after[f] - before[f]; d != want {
				t.Errorf("second request: %d more origin calls for %s; want %d", d, f, want)
			}
		}
		if !bytes.Equal(withoutPrices(first.body), withoutPrices(second.body)) {
			t.Errorf("responses differ beyond prices:\n%s\n%s", first.body, second.body)
		}
		if cc := second.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control with live prices = %q; want no-store", cc)
		}
	})
}

// The hundred products' reviews are read in one GetMany, not a hundred
// Gets: a warm list costs two store round trips, and none with a near
// cache in front of a shared store.
func TestListLevelBatching(t *testing.T) {
	const q = `{ products(first: 100) { reviews { stars } } }`
	eachStore(t, allStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		s0 := e.store.snapshot()
		mustOK(t, e.post(q, nil))
		s1 := e.store.snapshot()
		cold := s1.minus(s0)
		t.Logf("%s, cold: %+v (%d calls)", kind, cold, cold.total())
		// Certain even cold: one read for the list, one for all its
		// reviews; the fills then claim and write each entry.
		if cold.Gets != 1 || cold.GetManys != 1 {
			t.Errorf("cold: %d Gets and %d GetManys; want 1 Get (products) and 1 GetMany (the reviews)", cold.Gets, cold.GetManys)
		}
		if cold.Claims < 101 || cold.Fills < 101 {
			t.Errorf("cold: %d claims and %d fills; want at least 101 each (products and 100 reviews)", cold.Claims, cold.Fills)
		}
		reviews := e.o.Calls(origin.FieldReviews)
		if reviews != 100 {
			t.Errorf("cold: %d origin calls for Product.reviews; want 100", reviews)
		}

		mustOK(t, e.post(q, nil))
		warm := e.store.snapshot().minus(s1)
		t.Logf("%s, warm: %+v", kind, warm)
		if warm != (storeCalls{Gets: 1, GetManys: 1}) {
			t.Errorf("warm: store calls %+v; want exactly 1 Get (products) and 1 GetMany (the reviews)", warm)
		}
		if n := e.o.Calls(origin.FieldReviews); n != reviews {
			t.Errorf("warm: %d more origin calls for Product.reviews", n-reviews)
		}
	})
}

// With a near cache in front of a shared store, a warm list costs the
// store nothing at all.
func TestListLevelBatchingNearCache(t *testing.T) {
	const q = `{ products(first: 100) { reviews { stars } } }`
	eachStore(t, []string{redisStore, clusterStore}, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind, cache: cache.Options{NearTTL: time.Minute}})
		s0 := e.store.snapshot()
		mustOK(t, e.post(q, nil))
		s1 := e.store.snapshot()
		t.Logf("%s with a near cache, cold: %+v", kind, s1.minus(s0))
		mustOK(t, e.post(q, nil))
		s2 := e.store.snapshot()
		t.Logf("%s with a near cache, first warm: %+v", kind, s2.minus(s1))
		mustOK(t, e.post(q, nil))
		if warm := e.store.snapshot().minus(s2); warm.total() != 0 {
			t.Errorf("warm with a near cache: store calls %+v; want none", warm)
		}
		if n := e.o.Calls(origin.FieldReviews); n != 100 {
			t.Errorf("origin calls for Product.reviews = %d; want 100", n)
		}
	})
}

// statuses maps each cached field's path in extensions.cache to its status.
func statuses(t *testing.T, r *response) map[string]string {
	t.Helper()
	rep, ok := r.debugReport(t)
	if !ok {
		t.Fatalf("no extensions.cache in %s", r.body)
	}
	out := map[string]string{}
	for _, x := range rep {
		out[fmt.Sprint(x.Path...)] = x.Status
	}
	return out
}

// A purge by tag reaches the typed field's entry that carries the tag, and
// only it: hard, the next read calls the resolver; soft, the next read is
// served stale while one refresh runs. The directive's tag template is
// rendered from the field's arguments.
func TestTagPurge(t *testing.T) {
	const q = `{ products(first: 5) { id reviews { stars } } }`
	ctx := context.Background()
	eachStore(t, allStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind, cache: cache.Options{Stale: time.Hour}})
		mustOK(t, e.post(q, nil))
		mustOK(t, e.post(q, nil))
		base := e.o.Calls(origin.FieldReviews)

		if _, err := e.c.InvalidateTags(ctx, []string{"reviews:3"}, false); err != nil {
			t.Fatal(err)
		}
		st := statuses(t, mustOK(t, e.post(q, nil, debug...)))
		if n := e.o.Calls(origin.FieldReviews); n != base+1 {
			t.Errorf("after purging reviews:3: %d origin calls for Product.reviews; want 1", n-base)
		}
		for i := range 5 {
			want := "HIT"
			if i == 2 {
				want = "MISS"
			}
			if got := st[fmt.Sprint("products", i, "reviews")]; got != want {
				t.Errorf("after purging reviews:3, products.%d.reviews is %s; want %s (report %v)", i, got, want, st)
			}
		}

		// Soft: stale once, one refresh, then fresh again.
		base = e.o.Calls(origin.FieldReviews)
		if _, err := e.c.InvalidateTags(ctx, []string{"reviews:3"}, true); err != nil {
			t.Fatal(err)
		}
		st = statuses(t, mustOK(t, e.post(q, nil, debug...)))
		if got := st["products2reviews"]; got != "STALE" {
			t.Errorf("after a soft purge of reviews:3, products.2.reviews is %s; want STALE", got)
		}
		waitUntil(t, "the refresh after the soft purge is stored", func() bool {
			return statuses(t, mustOK(t, e.post(q, nil, debug...)))["products2reviews"] == "HIT"
		})
		if n := e.o.Calls(origin.FieldReviews); n != base+1 {
			t.Errorf("a soft purge cost %d origin calls for Product.reviews; want 1 refresh", n-base)
		}

		// The directive's "product:{id}" tag.
		const one = `query($id: ID!) { product(id: $id) { id name } }`
		mustOK(t, e.post(one, map[string]any{"id": "7"}))
		mustOK(t, e.post(one, map[string]any{"id": "8"}))
		base = e.o.Calls(origin.FieldProduct)
		if _, err := e.c.InvalidateTags(ctx, []string{"product:7"}, false); err != nil {
			t.Fatal(err)
		}
		mustOK(t, e.post(one, map[string]any{"id": "7"}))
		mustOK(t, e.post(one, map[string]any{"id": "8"}))
		if n := e.o.Calls(origin.FieldProduct); n != base+1 {
			t.Errorf("after purging product:7, reading products 7 and 8 made %d origin calls; want 1 (product 7 only)", n-base)
		}
	})
}

// A PRIVATE field is one entry per caller: a caller is served their own
// answer from the cache, never another's, and a request naming no caller
// neither reads nor stores one.
func TestPrivateScope(t *testing.T) {
	const q = `{ cart { items { id } total } }`
	eachStore(t, localStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		alice := mustOK(t, e.post(q, nil, "Authorization: Bearer alice"))
		alice2 := mustOK(t, e.post(q, nil, "Authorization: Bearer alice"))
		if n := e.o.Calls(origin.FieldCart); n != 1 {
			t.Errorf("alice's cart twice: %d origin calls; want 1", n)
		}
		if !bytes.Equal(alice.body, alice2.body) {
			t.Errorf("alice's cart changed: %s then %s", alice.body, alice2.body)
		}
		for _, r := range []*response{alice, alice2} {
			if cc := r.header.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
				t.Errorf("Cache-Control of a cart = %q; want private, max-age=...", cc)
			}
		}
		bob := mustOK(t, e.post(q, nil, "Authorization: Bearer bob"))
		if n := e.o.Calls(origin.FieldCart); n != 2 {
			t.Errorf("bob's cart after alice's: %d origin calls in all; want 2", n)
		}
		if bytes.Equal(bob.body, alice.body) {
			t.Errorf("bob was served alice's cart: %s", bob.body)
		}
		if bob2 := mustOK(t, e.post(q, nil, "Authorization: Bearer bob")); !bytes.Equal(bob2.body, bob.body) || e.o.Calls(origin.FieldCart) != 2 {
			t.Errorf("bob's cart again: %s (origin calls %d); want his first answer, from the cache", bob2.body, e.o.Calls(origin.FieldCart))
		}

		before := e.store.snapshot()
		for range 2 {
			anon := e.post(q, nil)
			if len(anon.Errors) == 0 || !strings.Contains(anon.Errors[0].Message, "sign in") {
				t.Errorf("cart without Authorization: %s; want the resolver's sign-in error", anon.body)
			}
			if cc := anon.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control of a failed cart = %q; want no-store", cc)
			}
		}
		if d := e.store.snapshot().minus(before); d.total() != 0 {
			t.Errorf("carts without a caller made store calls %+v; want none", d)
		}
	})
}

// schemaOnly is an ExecutableSchema for New's checks, which read nothing
// but the schema.
type schemaOnly struct{ s *ast.Schema }

func (s schemaOnly) Schema() *ast.Schema { return s.s }
func (s schemaOnly) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}
func (s schemaOnly) Exec(context.Context) graphql.ResponseHandler { return nil }

const directives = `
directive @cacheControl(maxAge: Int, scope: CacheControlScope, tags: [String!]) on FIELD_DEFINITION
enum CacheControlScope { PUBLIC PRIVATE }
`

type box struct {
	Label    string
	Contents []string
}

type item struct {
	ID   string
	Name string
}

// sealed cannot round-trip: a hit could not restore what it hides.
type sealed struct {
	Name   string
	hidden int
}

// New refuses a schema it could not cache correctly, at start, naming the
// field, rather than serving wrong answers later.
func TestNewRefusesWhatItCannotCache(t *testing.T) {
	ms, err := cache.NewMemoryStore(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(ms, cache.Options{Prefix: "refusals"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_ = sealed{hidden: 0}.hidden

	for _, tc := range []struct {
		name, sdl string
		fields    func(*fieldcache.Fields)
		want, why string
	}{{
		name: "a parent without identity",
		sdl: `type Query { box: Box @cacheControl(maxAge: 60) }
		      type Box { label: String! contents: [String!]! @cacheControl(maxAge: 60) }`,
		fields: func(f *fieldcache.Fields) {
			fieldcache.Field[*box](f, "Query.box")
			fieldcache.Field[[]string](f, "Box.contents")
		},
		want: "Box.contents", why: "no identity",
	}, {
		name: "a cached mutation",
		sdl: `type Query { item(id: ID!): Item @cacheControl(maxAge: 60) }
		      type Mutation { rename(id: ID!, name: String!): Item @cacheControl(maxAge: 60) }
		      type Item { id: ID! name: String! }`,
		fields: func(f *fieldcache.Fields) {
			fieldcache.Field[*item](f, "Query.item")
			fieldcache.Field[*item](f, "Mutation.rename")
			fieldcache.Identity[item](f, "Item", func(i *item) any { return i.ID })
		},
		want: "Mutation.rename", why: "mutation or subscription",
	}, {
		name: "a Go type that cannot round-trip",
		sdl: `type Query { item(id: ID!): Item @cacheControl(maxAge: 60) secret: Sealed @cacheControl(maxAge: 60) }
		      type Item { id: ID! name: String! }
		      type Sealed { name: String! }`,
		fields: func(f *fieldcache.Fields) {
			fieldcache.Field[*item](f, "Query.item")
			fieldcache.Field[*sealed](f, "Query.secret")
		},
		want: "Query.secret", why: "unexported",
	}, {
		name: "a field with no Go type recorded",
		sdl: `type Query { item(id: ID!): Item @cacheControl(maxAge: 60) other(id: ID!): Item @cacheControl(maxAge: 60) }
		      type Item { id: ID! name: String! }`,
		fields: func(f *fieldcache.Fields) {
			fieldcache.Field[*item](f, "Query.item")
		},
		want: "Query.other", why: "no Go type",
	}, {
		name: "a tag placeholder naming no argument",
		sdl: `type Query { item(id: ID!): Item @cacheControl(maxAge: 60, tags: ["item:{nope}"]) }
		      type Item { id: ID! name: String! }`,
		fields: func(f *fieldcache.Fields) {
			fieldcache.Field[*item](f, "Query.item")
		},
		want: "Query.item", why: "{nope}",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: directives + tc.sdl})
			if gerr != nil {
				t.Fatal(gerr)
			}
			f := fieldcache.NewFields()
			tc.fields(f)
			ext, err := fieldcache.New(schemaOnly{s}, f, c, fieldcache.Options{})
			if err == nil {
				t.Fatalf("New accepted the schema (%v)", ext)
			}
			// The reason too: a refusal for another cause would pass
			// on the name alone.
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("New's error does not name %s and say %q: %v", tc.want, tc.why, err)
			}
			t.Logf("refused: %v", err)
		})
	}

	// The control: the same registry shapes, done right, are accepted, so
	// the refusals above are for what each case breaks.
	s, gerr := gqlparser.LoadSchema(&ast.Source{Name: "ok.graphqls", Input: directives + `
		type Query { item(id: ID!): Item @cacheControl(maxAge: 60, tags: ["item:{id}"]) }
		type Item { id: ID! name: String! related: [Item!]! @cacheControl(maxAge: 60, tags: ["related:{parent}"]) }`})
	if gerr != nil {
		t.Fatal(gerr)
	}
	f := fieldcache.NewFields()
	fieldcache.Field[*item](f, "Query.item")
	fieldcache.Field[[]*item](f, "Item.related")
	fieldcache.Identity[item](f, "Item", func(i *item) any { return i.ID })
	if _, err := fieldcache.New(schemaOnly{s}, f, c, fieldcache.Options{}); err != nil {
		t.Errorf("New refused a schema it can cache: %v", err)
	}
}

// A resolver's failure reaches the client as its own error and is never
// stored; with a stale copy kept, a failing refresh serves that copy.
func TestErrorsAreNeverCached(t *testing.T) {
	const q = `{ product(id: "2") { id reviews { id stars } } }`
	down := errors.New("reviews backend down")
	eachStore(t, localStores, func(t *testing.T, kind string) {
		t.Run("no stale copy", func(t *testing.T) {
			e := newEnv(t, setup{store: kind})
			e.faults.set(origin.FieldReviews, down)
			r := e.post(q, nil, debug...)
			if len(r.Errors) != 1 || r.Errors[0].Message != down.Error() || fmt.Sprint(r.Errors[0].Path...) != "productreviews" {
				t.Fatalf("failing reviews: %s; want one error %q at product.reviews", r.body, down)
			}
			if st := statuses(t, r)["productreviews"]; st != "ERROR" {
				t.Errorf("failing reviews reported %s; want ERROR", st)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control with an error = %q; want no-store", cc)
			}
			e.faults.set(origin.FieldReviews, nil)
			ok := mustOK(t, e.post(q, nil, debug...))
			if n := e.o.Calls(origin.FieldReviews); n != 1 {
				t.Errorf("after recovery: %d origin calls for Product.reviews; want 1 (was the error stored?)", n)
			}
			if st := statuses(t, ok)["productreviews"]; st != "MISS" {
				t.Errorf("after recovery reviews reported %s; want MISS", st)
			}
			if !strings.Contains(string(ok.body), "review-2-1") {
				t.Errorf("after recovery: %s", ok.body)
			}
		})
		t.Run("stale copy", func(t *testing.T) {
			clk := newClock()
			e := newEnv(t, setup{store: kind, cache: cache.Options{Stale: time.Hour, Now: clk.Now}})
			fresh := mustOK(t, e.post(q, nil))
			clk.advance(31 * time.Second) // past reviews' maxAge of 30s
			e.faults.set(origin.FieldReviews, down)
			r := mustOK(t, e.post(q, nil, debug...))
			if st := statuses(t, r)["productreviews"]; st != "STALE" {
				t.Errorf("expired reviews with a failing resolver reported %s; want STALE", st)
			}
			if !bytes.Equal(r.Data["product"], fresh.Data["product"]) {
				t.Errorf("stale answer %s; want the stored %s", r.Data["product"], fresh.Data["product"])
			}
			waitUntil(t, "the refresh calls the failing resolver", func() bool { return e.faults.failed(origin.FieldReviews) >= 1 })
			// The failed refresh kept the stale copy: still served, no error.
			r = mustOK(t, e.post(q, nil, debug...))
			if st := statuses(t, r)["productreviews"]; st != "STALE" || !bytes.Equal(r.Data["product"], fresh.Data["product"]) {
				t.Errorf("after a failed refresh: %s, %s; want the stale copy", st, r.Data["product"])
			}
			e.faults.set(origin.FieldReviews, nil)
			waitUntil(t, "a refresh after recovery is stored", func() bool {
				return statuses(t, mustOK(t, e.post(q, nil, debug...)))["productreviews"] == "HIT"
			})
		})
	})
}

// An admin asking for it sees what the cache did for each cached field;
// nobody else does. The metrics count the same, by coordinate and status.
func TestDebugReport(t *testing.T) {
	const q = `{ product(id: "4") { id reviews { stars } } }`
	eachStore(t, localStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		for i, want := range []string{"MISS", "HIT"} {
			rep, ok := mustOK(t, e.post(q, nil, debug...)).debugReport(t)
			if !ok {
				t.Fatalf("request %d: no extensions.cache for the admin", i)
			}
			wantRep := []report{
				{Path: []any{"product"}, Coordinate: "Query.product", Status: want, MaxAgeSeconds: 60, Tags: []string{"product:4"}},
				{Path: []any{"product", "reviews"}, Coordinate: "Product.reviews", Status: want, MaxAgeSeconds: 30, Tags: []string{"reviews:4"}},
			}
			for j := range rep {
				rep[j].AgeSeconds = 0 // a second may pass on a busy machine
			}
			if !reflect.DeepEqual(rep, wantRep) {
				t.Errorf("request %d: extensions.cache = %+v; want %+v", i, rep, wantRep)
			}
		}
		for name, headers := range map[string][]header{
			"no token":    {"Cache-Debug: true"},
			"wrong token": {"Cache-Debug: true", "Authorization: Bearer " + adminToken + "x"},
			"no header":   {"Authorization: Bearer " + adminToken},
			"header off":  {"Cache-Debug: false", "Authorization: Bearer " + adminToken},
		} {
			r := mustOK(t, e.post(q, nil, headers...))
			if _, ok := r.debugReport(t); ok {
				t.Errorf("%s: extensions.cache shown: %s", name, r.body)
			}
		}
		for _, coord := range []string{"Query.product", "Product.reviews"} {
			if m, h := e.results(coord, "MISS"), e.results(coord, "HIT"); m != 1 || h != 5 {
				t.Errorf("gqlcache_fieldcache_results_total{field=%q}: MISS %v, HIT %v; want 1 and 5", coord, m, h)
			}
		}
	})
}

var maxAgeRE = regexp.MustCompile(`^public, max-age=(\d+)$`)

// The response's Cache-Control lets a CDN keep it no longer than its
// shortest-lived cached field, and not at all when any part is live or
// failed.
func TestCacheControl(t *testing.T) {
	eachStore(t, localStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind})
		for _, tc := range []struct {
			q      string
			maxAge int
		}{
			{`{ product(id: "1") { id name } }`, 60},
			{`{ product(id: "1") { id name reviews { stars } } }`, 30},
			{`{ product(id: "1") { id name reviews { stars } } }`, 30}, // now a hit
		} {
			r := mustOK(t, e.post(tc.q, nil))
			cc := r.header.Get("Cache-Control")
			m := maxAgeRE.FindStringSubmatch(cc)
			if m == nil {
				t.Errorf("%s: Cache-Control %q; want public, max-age=N", tc.q, cc)
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n <= 0 || n > tc.maxAge {
				t.Errorf("%s: max-age=%d; want 1 to %d", tc.q, n, tc.maxAge)
			}
		}
		if cc := mustOK(t, e.post(`{ product(id: "1") { id price } }`, nil)).header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("with a live price: Cache-Control %q; want no-store", cc)
		}
		e.faults.set(origin.FieldProduct, errors.New("catalog down"))
		r := e.post(`{ product(id: "2") { id } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatalf("failing product answered %s", r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("with an error: Cache-Control %q; want no-store", cc)
		}
	})
}

// Identical cold requests arriving together cost the origin one call.
func TestCoalescing(t *testing.T) {
	eachStore(t, localStores, func(t *testing.T, kind string) {
		// The latency keeps the first call open while the others arrive;
		// any that arrive after it ended find the entry it stored, so the
		// count holds either way.
		e := newEnv(t, setup{store: kind, latency: 300 * time.Millisecond})
		const q = `{ product(id: "1") { id name } }`
		var wg sync.WaitGroup
		bodies := make([][]byte, 20)
		errs := make([]error, 20)
		for i := range bodies {
			wg.Go(func() {
				r, err := e.do(context.Background(), q, nil)
				if err == nil && len(r.Errors) > 0 {
					err = fmt.Errorf("errors: %s", r.body)
				}
				if err == nil {
					bodies[i] = r.body
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if !bytes.Equal(bodies[i], bodies[0]) {
				t.Errorf("request %d answered %s; request 0 %s", i, bodies[i], bodies[0])
			}
		}
		if n := e.o.Calls(origin.FieldProduct); n != 1 {
			t.Errorf("20 identical cold requests: %d origin calls for Query.product; want 1", n)
		}
	})
}

// A client that gives up while a cached field's resolver runs leaves
// nothing broken behind: no race (run with -race), and the next request is
// answered in full.
func TestCancelledRequest(t *testing.T) {
	eachStore(t, localStores, func(t *testing.T, kind string) {
		e := newEnv(t, setup{store: kind, latency: 200 * time.Millisecond})
		const q = `{ product(id: "1") { id name reviews { id stars } } }`
		for _, field := range []string{origin.FieldProduct, origin.FieldReviews} {
			ctx, cancel := context.WithCancel(context.Background())
			before := e.o.Calls(field)
			go func() {
				// Not waitUntil: a goroutine must not end the test.
				for e.o.Calls(field) == before && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			if r, err := e.do(ctx, q, nil); err == nil {
				t.Logf("cancelled during %s, yet answered: %s", field, r.body)
			}
			cancel()
			// The cache's fills are not the client's: evict them, so the
			// next round's resolver runs again.
			waitUntil(t, "the abandoned fill settles", func() bool {
				r, err := e.do(context.Background(), q, nil)
				return err == nil && len(r.Errors) == 0
			})
			if _, err := e.c.InvalidateTags(context.Background(), []string{"product:1", "reviews:1"}, false); err != nil {
				t.Fatal(err)
			}
		}
		r := mustOK(t, e.post(q, nil))
		if !strings.Contains(string(r.body), `"id":"1"`) || !strings.Contains(string(r.body), "review-1-3") {
			t.Errorf("after cancelled requests: %s", r.body)
		}
	})
}
