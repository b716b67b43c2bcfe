package fieldcache

import (
	"fmt"
	"reflect"

	"github.com/gqlcache/gqlcache/cache"
)

// Fields is what the extension must know of a schema's Go types and cannot
// read from the schema: the Go type each cached field resolves to, the Go
// types behind each interface and union, and how to read the identity of
// each object type. Generated code fills it (see package cachegen), so it
// always matches the resolvers gqlgen generated.
type Fields struct {
	types map[string]reflect.Type // schema coordinate -> the resolver's Go type
	// impls maps each Go interface type to its implementations, by name.
	impls map[reflect.Type]map[string]reflect.Type
	ids   map[string]func(parent any) (any, bool) // object type -> identity
	// custom maps a coordinate to the Codec that stores its values instead
	// of the typed codec.
	custom map[string]Codec
}

// NewFields returns an empty set of fields.
func NewFields() *Fields {
	return &Fields{
		types:  map[string]reflect.Type{},
		impls:  map[reflect.Type]map[string]reflect.Type{},
		ids:    map[string]func(any) (any, bool){},
		custom: map[string]Codec{},
	}
}

// A Codec stores a field's values in a form of its own choosing, instead of
// the typed codec Field implies: a field whose answer another door (a REST
// endpoint, say) shares, or whose type carries the cache's own figures.
type Codec interface {
	// Encode returns what the cache stores for v, one JSON value.
	Encode(v any) ([]byte, error)
	// Decode returns the field's value for a cached answer: res.Data is
	// what Encode returned, beside where the answer came from and how
	// fresh it is. It is called for every answer, the resolver's own
	// included, so the value can always carry those figures.
	Decode(res cache.Result) (any, error)
}

// Custom records that the field at coordinate stores its values through
// codec. Its entries are keyed by its coordinate and arguments only, so
// another door building the same cache query (see Extension.Query) shares
// them.
func Custom(f *Fields, coordinate string, codec Codec) {
	f.custom[coordinate] = codec
}

// Field records that the field at coordinate ("Product.reviews") resolves to
// a T: a hit hands gqlgen a T, as the resolver would have.
func Field[T any](f *Fields, coordinate string) {
	f.types[coordinate] = reflect.TypeFor[T]()
}

// Implementation records that the object type typename is the Go type T,
// which implements the Go interface I of a GraphQL interface or union. Both
// T and *T are recorded when they implement I, since a resolver may return
// either and a hit must return the one it did.
func Implementation[I, T any](f *Fields, typename string) {
	iface := reflect.TypeFor[I]()
	if iface.Kind() != reflect.Interface {
		panic(fmt.Sprintf("fieldcache: Implementation: %v is not an interface type", iface))
	}
	m := f.impls[iface]
	if m == nil {
		m = map[string]reflect.Type{}
		f.impls[iface] = m
	}
	if t := reflect.TypeFor[T](); t.Implements(iface) {
		m[typename] = t
	}
	if p := reflect.TypeFor[*T](); p.Implements(iface) {
		m["*"+typename] = p
	}
}

// Identity records how to read the identity of the object type typename,
// whose Go type is P: the values of its key fields, which key the cached
// fields of its objects. gqlgen hands a field its parent as a *P, or as a
// **P or P in lists; all three are read.
func Identity[P any](f *Fields, typename string, id func(*P) any) {
	f.ids[typename] = func(parent any) (any, bool) {
		switch p := parent.(type) {
		case *P:
			if p != nil {
				return id(p), true
			}
		case **P:
			if p != nil && *p != nil {
				return id(*p), true
			}
		case P:
			return id(&p), true
		}
		return nil, false
	}
}
