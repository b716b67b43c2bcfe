package fieldcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Color is string-kinded with no methods of its own.
type Color string

// Lifecycle is shaped like a gqlgen enum.
type Lifecycle string

const (
	LifecycleActive  Lifecycle = "ACTIVE"
	LifecycleRetired Lifecycle = "RETIRED"
)

func (e Lifecycle) MarshalGQL(w io.Writer) { fmt.Fprint(w, strconv.Quote(string(e))) }

func (e *Lifecycle) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	*e = Lifecycle(s)
	if *e != LifecycleActive && *e != LifecycleRetired {
		return fmt.Errorf("%s is not a valid Lifecycle", s)
	}
	return nil
}

// Money is a custom scalar whose state is unexported: only its GraphQL
// methods can carry it.
type Money struct{ cents int64 }

func (m Money) MarshalGQL(w io.Writer) {
	fmt.Fprintf(w, "%d", m.cents)
}

func (m *Money) UnmarshalGQL(v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("money must be a number, got %T", v)
	}
	c, err := n.Int64()
	m.cents = c
	return err
}

// Upper exercises the context variants.
type Upper string

func (u Upper) MarshalGQLContext(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, strconv.Quote(strings.ToUpper(string(u))))
	return err
}

func (u *Upper) UnmarshalGQLContext(_ context.Context, v any) error {
	s, ok := v.(string)
	if !ok {
		return errors.New("not a string")
	}
	*u = Upper(s)
	return nil
}

// Point has unexported state carried by its JSON methods.
type Point struct{ x, y int }

func (p Point) MarshalJSON() ([]byte, error) { return json.Marshal([2]int{p.x, p.y}) }

func (p *Point) UnmarshalJSON(b []byte) error {
	var a [2]int
	err := json.Unmarshal(b, &a)
	p.x, p.y = a[0], a[1]
	return err
}

type Node interface{ IsNode() }

type Media interface{ IsMedia() }

type User struct {
	ID   string
	Name string
}

func (*User) IsNode() {}

type Image struct {
	URL           string
	Width, Height int
}

func (Image) IsMedia() {}

type Video struct {
	URL     string
	Seconds float64
}

func (*Video) IsMedia() {}

type Review struct {
	ID    string
	Stars int
	Body  string
}

type Product struct {
	ID        string
	Name      string
	Price     float64
	Lifecycle Lifecycle
	Tags      []string
	Reviews   []*Review
	Related   []*Product
	Owner     Node
	Media     []Media
	CreatedAt time.Time
	Cost      Money
	Byline    Upper
	At        Point
	Addr      netip.Addr
	Attrs     map[string]*Review
	Extra     any
	Counts    [3]int8
	InStock   *bool
	Weight    float32
	Units     uint16
}

func (*Product) IsNode() {}

var testImpls = map[reflect.Type]map[string]reflect.Type{
	reflect.TypeFor[Node]():  {"User": reflect.TypeFor[*User](), "Product": reflect.TypeFor[*Product]()},
	reflect.TypeFor[Media](): {"Image": reflect.TypeFor[Image](), "Video": reflect.TypeFor[*Video]()},
}

func ptr[T any](v T) *T { return &v }

func fullProduct() *Product {
	return &Product{
		ID:        "p1",
		Name:      "Kettle \"Deluxe\" <b>",
		Price:     19.99,
		Lifecycle: LifecycleActive,
		Tags:      []string{"kitchen", "élec"},
		Reviews:   []*Review{{ID: "r1", Stars: 5, Body: "great"}, nil, {ID: "r2", Stars: -1, Body: ""}},
		Related: []*Product{
			{ID: "p2", Lifecycle: LifecycleRetired, Tags: []string{}, Related: []*Product{{ID: "p3", Lifecycle: LifecycleActive}}},
		},
		Owner:     &User{ID: "u1", Name: "Ann"},
		Media:     []Media{Image{URL: "a.png", Width: 3, Height: 4}, nil, &Video{URL: "v.mp4", Seconds: 1.5}, (*Video)(nil)},
		CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Cost:      Money{cents: 1234},
		Byline:    "SHOUTED",
		At:        Point{x: 1, y: -2},
		Addr:      netip.MustParseAddr("2001:db8::1"),
		Attrs:     map[string]*Review{"best": {ID: "r1", Stars: 5}, "none": nil},
		Extra: map[string]any{
			"n":    json.Number("12345678901234567890"),
			"f":    json.Number("1.5"),
			"list": []any{json.Number("1"), "two", nil, true, map[string]any{}},
		},
		Counts:  [3]int8{-128, 0, 127},
		InStock: ptr(false),
		Weight:  0.1,
		Units:   65535,
	}
}

func mustCodec(t testing.TB, typ reflect.Type) *codec {
	t.Helper()
	c, err := newCodec(typ, testImpls)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    any
		t    reflect.Type // set when v alone cannot carry the type (nil, interfaces)
	}{
		{name: "bool", v: true},
		{name: "int", v: -42},
		{name: "int64 min", v: int64(math.MinInt64)},
		{name: "uint64 max", v: uint64(math.MaxUint64)},
		{name: "float64", v: 3.141592653589793},
		{name: "float64 tiny", v: 5e-324},
		{name: "float32", v: float32(0.1)},
		{name: "string", v: "héllo\n\"\\\u2028"},
		{name: "named string", v: Color("teal")},
		{name: "enum", v: LifecycleRetired},
		{name: "custom scalar", v: Money{cents: -5}},
		{name: "context scalar", v: Upper("LOUD")},
		{name: "json methods", v: Point{x: 7, y: 8}},
		{name: "text methods", v: netip.MustParseAddr("10.0.0.1")},
		{name: "nil slice", v: []string(nil)},
		{name: "empty slice", v: []string{}},
		{name: "nil elements", v: []*Review{nil, {ID: "a"}, nil}},
		{name: "nested slices", v: [][]int{nil, {}, {1, 2}}},
		{name: "nil pointer", v: (*Review)(nil)},
		{name: "pointer to pointer", v: ptr(ptr(3))},
		{name: "array", v: [2]string{"a", "b"}},
		{name: "nil map", v: map[string]*Review(nil)},
		{name: "empty map", v: map[string]*Review{}},
		{name: "map of pointers", v: map[string]*Review{"a": {ID: "a"}, "b": nil}},
		{name: "map with named keys", v: map[Lifecycle]int{LifecycleActive: 1}},
		{name: "any nil", v: nil, t: reflect.TypeFor[any]()},
		{name: "any nested", v: map[string]any{"a": []any{json.Number("1"), json.Number("-2.5e10"), map[string]any{"b": nil}}, "c": "d"}, t: reflect.TypeFor[any]()},
		{name: "map string any", v: map[string]any{"x": json.Number("1"), "y": []any{}}},
		{name: "interface nil", v: nil, t: reflect.TypeFor[Node]()},
		{name: "interface", v: &User{ID: "u"}, t: reflect.TypeFor[Node]()},
		{name: "interface typed nil", v: (*User)(nil), t: reflect.TypeFor[Node]()},
		{name: "union value impl", v: Image{URL: "x"}, t: reflect.TypeFor[Media]()},
		{name: "union list", v: []Media{&Video{URL: "v"}, Image{}, nil}},
		{name: "empty struct", v: struct{}{}},
		{name: "struct value", v: *fullProduct()},
		{name: "recursive product", v: fullProduct()},
		{name: "products", v: []*Product{fullProduct(), nil, {Lifecycle: LifecycleActive}}},
		{name: "nil product list", v: []*Product(nil)},
		{name: "interface product", v: fullProduct(), t: reflect.TypeFor[Node]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.t
			if typ == nil {
				typ = reflect.TypeOf(tt.v)
			}
			c := mustCodec(t, typ)
			b, err := c.encode([]byte("prefix"), tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("encode did not append to dst: %s", b)
			}
			b = b[len("prefix"):]
			got, err := c.decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.v) {
				t.Fatalf("round trip of %s\n got %#v\nwant %#v", b, got, tt.v)
			}
			// gqlgen asserts the resolver's type; an interface field is the
			// one case where the dynamic type is the concrete one.
			if got != nil && typ.Kind() != reflect.Interface && reflect.TypeOf(got) != typ {
				t.Fatalf("decode returned %T, want %v", got, typ)
			}
			again, err := c.encode(nil, got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encode = %s, %v; want %s", again, err, b)
			}
		})
	}
}

func TestCodecNilVersusEmpty(t *testing.T) {
	c := mustCodec(t, reflect.TypeFor[[]*Review]())
	for _, in := range [][]*Review{nil, {}} {
		b, err := c.encode(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		rs, ok := got.([]*Review)
		if !ok {
			t.Fatalf("decode returned %T", got)
		}
		if (rs == nil) != (in == nil) {
			t.Fatalf("%s: decoded nil=%v, want nil=%v", b, rs == nil, in == nil)
		}
	}
}

func TestCodecTypedNil(t *testing.T) {
	c := mustCodec(t, reflect.TypeFor[*Product]())
	b, err := c.encode(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := got.(*Product)
	if !ok || p != nil {
		t.Fatalf("decode(%s) = %#v, want a nil *Product", b, got)
	}
}

func TestCodecTime(t *testing.T) {
	c := mustCodec(t, reflect.TypeFor[time.Time]())
	for _, in := range []time.Time{
		time.Now(),
		time.Date(2001, 2, 3, 4, 5, 6, 7, time.FixedZone("IST", 5*3600+1800)),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.FixedZone("", -7*3600)),
		{},
	} {
		b, err := c.encode(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		tm := got.(time.Time)
		_, wantOff := in.Zone()
		_, gotOff := tm.Zone()
		if !tm.Equal(in) || gotOff != wantOff {
			t.Fatalf("%s decoded to %v, want %v", b, tm, in)
		}
	}
}

func TestCodecEncodeErrors(t *testing.T) {
	type unregistered struct{ Node }
	tests := []struct {
		name string
		t    reflect.Type
		v    any
		want string
	}{
		{name: "NaN", t: reflect.TypeFor[float64](), v: math.NaN(), want: "NaN"},
		{name: "Inf in struct", t: reflect.TypeFor[Video](), v: Video{Seconds: math.Inf(1)}, want: "+Inf"},
		{name: "unregistered impl", t: reflect.TypeFor[Node](), v: unregistered{}, want: "fieldcache.unregistered is not registered"},
		{name: "wrong type", t: reflect.TypeFor[*Review](), v: Review{}, want: "got a fieldcache.Review"},
		{name: "nil for a struct", t: reflect.TypeFor[Review](), v: nil, want: "got nil"},
		{name: "invalid UTF-8", t: reflect.TypeFor[string](), v: "\xff", want: "UTF-8"},
		{name: "any with NaN", t: reflect.TypeFor[any](), v: math.NaN(), want: "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCodec(t, tt.t)
			_, err := c.encode(nil, tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("encode error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

type halfGQL struct{}

func (halfGQL) MarshalGQL(io.Writer) {}

type halfJSON string

func (*halfJSON) UnmarshalJSON([]byte) error { return nil }

type halfText int

func (halfText) MarshalText() ([]byte, error) { return nil, nil }

type withUnexported struct {
	ID         string
	supplierID string
}

// The refusal is about a field a model really sets.
var _ = withUnexported{supplierID: "s1"}

type embedsTime struct {
	time.Time
	Name string
}

type notANode struct{}

type Shape interface{ Area() float64 }

func TestCodecRefusals(t *testing.T) {
	tests := []struct {
		name  string
		t     reflect.Type
		impls map[reflect.Type]map[string]reflect.Type
		want  []string // each must appear in the error
	}{
		{name: "chan", t: reflect.TypeFor[struct{ C chan int }](), want: []string{"$.C", "chan int"}},
		{name: "func", t: reflect.TypeFor[[]func()](), want: []string{"$[]", "func()"}},
		{name: "complex", t: reflect.TypeFor[map[string]complex128](), want: []string{"$[key]", "complex128"}},
		{name: "unsafe pointer", t: reflect.TypeFor[*unsafe.Pointer](), want: []string{"$", "unsafe.Pointer"}},
		{name: "uintptr", t: reflect.TypeFor[struct{ P uintptr }](), want: []string{"$.P", "uintptr"}},
		{name: "int keys", t: reflect.TypeFor[struct{ M map[int]string }](), want: []string{"$.M", "map[int]string", "keys"}},
		{
			name: "unexported field", t: reflect.TypeFor[[]*struct{ P withUnexported }](),
			want: []string{"$[].P.supplierID", "fieldcache.withUnexported.supplierID is unexported: a cached value cannot carry it; export it or give fieldcache.withUnexported MarshalJSON/UnmarshalJSON"},
		},
		{name: "unregistered interface", t: reflect.TypeFor[struct{ S []Shape }](), want: []string{"$.S[]", "fieldcache.Shape", "no registered implementations"}},
		{name: "marshal without unmarshal", t: reflect.TypeFor[struct{ H halfGQL }](), want: []string{"$.H", "fieldcache.halfGQL has MarshalGQL", "no UnmarshalGQL"}},
		{name: "unmarshal without marshal", t: reflect.TypeFor[*halfJSON](), want: []string{"$", "*fieldcache.halfJSON has UnmarshalJSON", "no MarshalJSON"}},
		{name: "text marshal only", t: reflect.TypeFor[[2]halfText](), want: []string{"$[]", "fieldcache.halfText has MarshalText"}},
		{name: "promoted marshaler", t: reflect.TypeFor[embedsTime](), want: []string{"fieldcache.embedsTime gets MarshalJSON from its embedded time.Time"}},
		{
			name: "bad impl", t: reflect.TypeFor[Node](),
			impls: map[reflect.Type]map[string]reflect.Type{reflect.TypeFor[Node](): {"X": reflect.TypeFor[notANode]()}},
			want:  []string{"fieldcache.notANode", "does not implement", "fieldcache.Node"},
		},
		{
			name: "refusal inside an impl", t: reflect.TypeFor[Node](),
			impls: map[reflect.Type]map[string]reflect.Type{reflect.TypeFor[Node](): {"Odd": reflect.TypeFor[*oddNode]()}},
			want:  []string{"$(Odd).F", "func()"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			impls := tt.impls
			if impls == nil {
				impls = testImpls
			}
			_, err := newCodec(tt.t, impls)
			if err == nil {
				t.Fatalf("newCodec(%v) accepted a type that cannot round-trip", tt.t)
			}
			for _, w := range append(tt.want, tt.t.String()) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

type oddNode struct{ F func() }

func (*oddNode) IsNode() {}

// A cyclic value must fail to encode, not overflow the stack: jsontext's
// nesting limit stops it.
func TestCodecCyclicValue(t *testing.T) {
	p := &Product{Lifecycle: LifecycleActive}
	p.Related = []*Product{p}
	c := mustCodec(t, reflect.TypeFor[*Product]())
	if _, err := c.encode(nil, p); err == nil {
		t.Fatal("encoded a cyclic value")
	}
}

// One codec serves every request for its field, so it is shared by
// goroutines; run with -race.
func TestCodecConcurrent(t *testing.T) {
	c := mustCodec(t, reflect.TypeFor[[]*Product]())
	want := []*Product{fullProduct(), nil}
	done := make(chan error)
	for range 8 {
		go func() {
			for range 50 {
				b, err := c.encode(nil, want)
				if err != nil {
					done <- err
					return
				}
				got, err := c.decode(b)
				if err != nil {
					done <- err
					return
				}
				if !reflect.DeepEqual(got, want) {
					done <- fmt.Errorf("got %#v", got)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestCodecDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		t    reflect.Type
		in   string
	}{
		{name: "empty", t: reflect.TypeFor[int](), in: ``},
		{name: "truncated", t: reflect.TypeFor[[]*Review](), in: `[{"ID":"a","Stars":1,"Bo`},
		{name: "truncated array", t: reflect.TypeFor[[]int](), in: `[1,2`},
		{name: "trailing data", t: reflect.TypeFor[int](), in: `1 2`},
		{name: "trailing garbage", t: reflect.TypeFor[int](), in: `1}`},
		{name: "string for int", t: reflect.TypeFor[int](), in: `"1"`},
		{name: "fraction for int", t: reflect.TypeFor[int](), in: `1.5`},
		{name: "overflow", t: reflect.TypeFor[int8](), in: `128`},
		{name: "negative uint", t: reflect.TypeFor[uint](), in: `-1`},
		{name: "float overflow", t: reflect.TypeFor[float32](), in: `1e39`},
		{name: "number for string", t: reflect.TypeFor[string](), in: `1`},
		{name: "null for struct", t: reflect.TypeFor[Review](), in: `null`},
		{name: "null for int", t: reflect.TypeFor[int](), in: `null`},
		{name: "object for slice", t: reflect.TypeFor[[]int](), in: `{}`},
		{name: "unknown member", t: reflect.TypeFor[Review](), in: `{"ID":"a","Stars":1,"Body":"","Extra":1}`},
		{name: "missing member", t: reflect.TypeFor[Review](), in: `{"ID":"a","Stars":1}`},
		{name: "duplicate member", t: reflect.TypeFor[Review](), in: `{"ID":"a","Stars":1,"Body":"","ID":"b"}`},
		{name: "short array", t: reflect.TypeFor[[2]int](), in: `[1]`},
		{name: "long array", t: reflect.TypeFor[[2]int](), in: `[1,2,3]`},
		{name: "unknown impl", t: reflect.TypeFor[Node](), in: `{"t":"Ghost","v":{}}`},
		{name: "value before type", t: reflect.TypeFor[Node](), in: `{"v":{"ID":"u","Name":""},"t":"User"}`},
		{name: "impl missing value", t: reflect.TypeFor[Node](), in: `{"t":"User"}`},
		{name: "impl extra member", t: reflect.TypeFor[Node](), in: `{"t":"User","v":null,"x":1}`},
		{name: "bad enum", t: reflect.TypeFor[Lifecycle](), in: `"PURPLE"`},
		{name: "enum not a string", t: reflect.TypeFor[Lifecycle](), in: `3`},
		{name: "invalid UTF-8", t: reflect.TypeFor[string](), in: "\"\xff\""},
		{name: "text scalar garbage", t: reflect.TypeFor[netip.Addr](), in: `"not an ip"`},
		{name: "bool from string", t: reflect.TypeFor[bool](), in: `"true"`},
		{name: "map key not string", t: reflect.TypeFor[map[string]int](), in: `{1:2}`},
		{name: "any truncated", t: reflect.TypeFor[any](), in: `{"a":[`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCodec(t, tt.t)
			v, err := c.decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("decode(%q) = %#v, want an error", tt.in, v)
			}
		})
	}
}

// FuzzCodecDecode feeds corrupted entries to the codec of a type that
// reaches every rule. An accepted entry must re-encode, and re-encoding is
// a fixed point: once written by encode, bytes decode and encode back to
// themselves. (Arbitrary accepted input need not be byte-identical: member
// order, whitespace, escapes and number spelling are free in JSON.)
func FuzzCodecDecode(f *testing.F) {
	c := mustCodec(f, reflect.TypeFor[[]*Product]())
	seeds := [][]*Product{nil, {}, {nil}, {fullProduct(), {Lifecycle: LifecycleRetired}}, {{Lifecycle: LifecycleActive, Related: []*Product{fullProduct()}}}}
	for _, s := range seeds {
		b, err := c.encode(nil, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := c.decode(data)
		if err != nil {
			return
		}
		b1, err := c.encode(nil, v)
		if err != nil {
			t.Fatalf("decoded %q but cannot re-encode it: %v", data, err)
		}
		v2, err := c.decode(b1)
		if err != nil {
			t.Fatalf("cannot decode own encoding %q: %v", b1, err)
		}
		b2, err := c.encode(nil, v2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s (%v)", b1, b2, err)
		}
	})
}

// TestCodecSeedsReencodeExactly holds the fuzz seeds to the stricter rule:
// what encode wrote comes back byte for byte.
func TestCodecSeedsReencodeExactly(t *testing.T) {
	c := mustCodec(t, reflect.TypeFor[[]*Product]())
	for _, s := range [][]*Product{nil, {}, {nil}, {fullProduct(), {Lifecycle: LifecycleRetired}}} {
		b, err := c.encode(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.encode(nil, v)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encode = %s, %v\nwant %s", again, err, b)
		}
	}
}

type benchProduct struct {
	ID      string
	Name    string
	Price   float64
	Reviews []*Review
	Related []*benchProduct
}

func benchReviews() []*Review {
	rs := make([]*Review, 10)
	for i := range rs {
		rs[i] = &Review{ID: "review-" + strconv.Itoa(i), Stars: i % 5, Body: "Solid kettle, boils fast, lid a little stiff. Would buy again."}
	}
	return rs
}

func BenchmarkCodec(b *testing.B) {
	cases := []struct {
		name string
		v    any
	}{
		{"reviews", benchReviews()},
		{"product", &benchProduct{
			ID: "p1", Name: "Kettle", Price: 19.99, Reviews: benchReviews(),
			Related: []*benchProduct{{ID: "p2", Name: "Mug", Price: 4.5, Reviews: benchReviews()[:3]}},
		}},
	}
	for _, bc := range cases {
		typ := reflect.TypeOf(bc.v)
		b.Run(bc.name+"/fieldcache", func(b *testing.B) {
			c := mustCodec(b, typ)
			b.ReportAllocs()
			for b.Loop() {
				buf, err := c.encode(nil, bc.v)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, err := json.Marshal(bc.v)
				if err != nil {
					b.Fatal(err)
				}
				out := reflect.New(typ)
				if err := json.Unmarshal(buf, out.Interface()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
