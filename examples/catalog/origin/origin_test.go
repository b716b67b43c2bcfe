package origin

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The catalog is deterministic and counted per field, both on Calls and on
// the Prometheus counter an outside tester reads.
func TestOriginCountsCallsPerField(t *testing.T) {
	reg := prometheus.NewRegistry()
	o, err := New(0, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := o.Product(ctx, "17")
	if err != nil || p == nil || p.ID != "17" || !strings.HasSuffix(p.Name, " 17") {
		t.Fatalf("Product(17) = %+v, %v", p, err)
	}
	if p, _ := o.Product(ctx, "1001"); p != nil {
		t.Fatalf("Product(1001) = %+v, want nil", p)
	}
	rs, err := o.Reviews(ctx, "17")
	if err != nil || len(rs) != ReviewsPerProduct || rs[0].ID != "review-17-1" {
		t.Fatalf("Reviews(17) = %v, %v", rs, err)
	}
	n, err := o.Node(ctx, "review-17-2")
	if err != nil || n == nil || n.GetID() != "review-17-2" {
		t.Fatalf("Node(review-17-2) = %v, %v", n, err)
	}
	ps, _ := o.Products(ctx, 5000)
	if len(ps) != Products || ps[999].ID != "1000" {
		t.Fatalf("Products(5000): %d products", len(ps))
	}
	p1, _ := o.Price(ctx, "17")
	p2, _ := o.Price(ctx, "17")
	if p1 == p2 {
		t.Errorf("price did not move between calls: %v", p1)
	}
	a, _ := o.Cart(ctx, "alice")
	a2, _ := o.Cart(ctx, "alice")
	b, _ := o.Cart(ctx, "bob")
	if a.Items[0].ID != a2.Items[0].ID || a.Items[0].ID == b.Items[0].ID {
		t.Errorf("carts: alice %s then %s, bob %s", a.Items[0].ID, a2.Items[0].ID, b.Items[0].ID)
	}
	counted := gathered(t, reg)
	for field, want := range map[string]int64{FieldProduct: 2, FieldReviews: 1, FieldNode: 1, FieldProducts: 1, FieldPrice: 2, FieldCart: 3, FieldSearch: 0} {
		if got := o.Calls(field); got != want {
			t.Errorf("Calls(%s) = %d, want %d", field, got, want)
		}
		if got := counted[field]; got != float64(want) {
			t.Errorf("catalog_origin_calls_total{field=%q} = %v, want %d", field, got, want)
		}
	}
}

func TestSearchFindsProductsAndReviews(t *testing.T) {
	o, _ := New(0, nil)
	got, err := o.Search(context.Background(), "hammer")
	if err != nil || len(got) == 0 {
		t.Fatalf("Search(hammer) = %v, %v", got, err)
	}
	got, _ = o.Search(context.Background(), "superb")
	if len(got) != maxResults {
		t.Fatalf("Search(superb): %d results, want %d", len(got), maxResults)
	}
}

func TestLatencyFromEnv(t *testing.T) {
	t.Setenv("ORIGIN_LATENCY", "20ms")
	if d, err := LatencyFromEnv(); err != nil || d.Milliseconds() != 20 {
		t.Fatalf("LatencyFromEnv() = %v, %v", d, err)
	}
	t.Setenv("ORIGIN_LATENCY", "soon")
	if _, err := LatencyFromEnv(); err == nil {
		t.Fatal("ORIGIN_LATENCY=soon accepted")
	}
}

// gathered reads catalog_origin_calls_total by field from reg, as a scrape
// of /metrics would.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "catalog_origin_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "field" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
