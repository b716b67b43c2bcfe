package fieldcache

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/go-json-experiment/json/jsontext"
)

// A codec turns values of one Go type into JSON text and back, so that a
// cache hit can hand gqlgen a value its generated code can assert to the
// resolver's exact return type. All type analysis happens in newCodec, at
// service start, so that a type which cannot round-trip is refused there
// rather than surfacing as a wrong value on a hit.
type codec struct {
	t    reflect.Type
	tc   *typeCodec
	nilc bool // t's zero value is a nil that encodes as null
}

type encFunc func(e *encState, v reflect.Value) error

// decFunc decodes into v, which is always addressable and settable, so that
// pointer-receiver unmarshalers can be called on it in place.
type decFunc func(d *jsontext.Decoder, v reflect.Value) error

// typeCodec is shared by reference while being built, so that a recursive
// type's codec can call itself before its funcs are filled in.
type typeCodec struct {
	enc encFunc
	dec decFunc
}

type encState struct {
	buf bytes.Buffer
	enc jsontext.Encoder
	tmp bytes.Buffer // MarshalGQL output, validated before it joins buf
}

type decState struct {
	buf bytes.Buffer
	dec jsontext.Decoder
}

var (
	encPool = sync.Pool{New: func() any { return new(encState) }}
	decPool = sync.Pool{New: func() any { return new(decState) }}
)

// maxPooledBuf keeps one huge value from pinning its buffer in the pool.
const maxPooledBuf = 64 << 10

var (
	gqlMarshalerType      = reflect.TypeFor[graphql.Marshaler]()
	gqlUnmarshalerType    = reflect.TypeFor[graphql.Unmarshaler]()
	gqlCtxMarshalerType   = reflect.TypeFor[graphql.ContextMarshaler]()
	gqlCtxUnmarshalerType = reflect.TypeFor[graphql.ContextUnmarshaler]()
	jsonMarshalerType     = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType     = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// newCodec compiles the codec for t. impls maps each non-empty interface
// type that may appear inside t to its implementations by GraphQL type name.
func newCodec(t reflect.Type, impls map[reflect.Type]map[string]reflect.Type) (*codec, error) {
	b := &builder{root: t, impls: impls, cache: map[reflect.Type]*typeCodec{}}
	tc, err := b.compile(t, "$")
	if err != nil {
		return nil, err
	}
	k := t.Kind()
	return &codec{t: t, tc: tc, nilc: k == reflect.Pointer || k == reflect.Slice || k == reflect.Map || k == reflect.Interface}, nil
}

func (c *codec) encode(dst []byte, v any) ([]byte, error) {
	var rv reflect.Value
	switch {
	case c.t.Kind() == reflect.Interface:
		// The dynamic value is what arrives; the interface encoder accepts it
		// directly, and an invalid Value for nil.
		rv = reflect.ValueOf(v)
	case v == nil:
		if !c.nilc {
			return dst, fmt.Errorf("fieldcache: encode %v: got nil", c.t)
		}
		rv = reflect.Zero(c.t)
	default:
		rv = reflect.ValueOf(v)
		if rv.Type() != c.t {
			return dst, fmt.Errorf("fieldcache: encode %v: got a %T", c.t, v)
		}
	}
	s := encPool.Get().(*encState)
	s.buf.Reset()
	// Names are unique by construction (struct fields, map keys), so the
	// encoder's duplicate-name bookkeeping would be pure cost.
	s.enc.Reset(&s.buf, jsontext.AllowDuplicateNames(true))
	err := c.tc.enc(s, rv)
	if err == nil {
		out := s.buf.Bytes()
		// The encoder ends a top-level value with a newline for streams;
		// a cache entry holds exactly one value.
		dst = append(dst, bytes.TrimSuffix(out, []byte{'\n'})...)
	}
	if s.buf.Cap() <= maxPooledBuf && s.tmp.Cap() <= maxPooledBuf {
		encPool.Put(s)
	}
	if err != nil {
		return dst, fmt.Errorf("fieldcache: encode %v: %w", c.t, err)
	}
	return dst, nil
}

func (c *codec) decode(data []byte) (any, error) {
	s := decPool.Get().(*decState)
	s.buf = *bytes.NewBuffer(data)
	s.dec.Reset(&s.buf)
	rv := reflect.New(c.t).Elem()
	err := c.tc.dec(&s.dec, rv)
	if err == nil {
		if _, err = s.dec.ReadToken(); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("trailing data after the value")
		}
	}
	// Drop the reference to data so the pool does not keep a cache entry alive.
	s.buf = bytes.Buffer{}
	s.dec.Reset(&s.buf)
	decPool.Put(s)
	if err != nil {
		return nil, fmt.Errorf("fieldcache: decode %v: %w", c.t, err)
	}
	return rv.Interface(), nil
}

type builder struct {
	root  reflect.Type
	impls map[reflect.Type]map[string]reflect.Type
	cache map[reflect.Type]*typeCodec
}

func (b *builder) refuse(path, format string, args ...any) error {
	return fmt.Errorf("fieldcache: cannot cache %v: at %s: %s", b.root, path, fmt.Sprintf(format, args...))
}

func (b *builder) compile(t reflect.Type, path string) (*typeCodec, error) {
	if tc, ok := b.cache[t]; ok {
		return tc, nil
	}
	tc := &typeCodec{}
	b.cache[t] = tc
	enc, dec, err := b.build(t, path)
	if err != nil {
		return nil, err
	}
	tc.enc, tc.dec = enc, dec
	return tc, nil
}

// pair is a marshal/unmarshal method pair, checked in gqlgen's order of
// preference: a type's own GraphQL form first, then its JSON, then its text.
type pair struct {
	marshal, ctxM   reflect.Type
	unmarshal, ctxU reflect.Type
	mName, uName    string
	build           func(ptrM bool) (encFunc, decFunc)
}

var pairs = []pair{
	{marshal: gqlMarshalerType, ctxM: gqlCtxMarshalerType, unmarshal: gqlUnmarshalerType, ctxU: gqlCtxUnmarshalerType, mName: "MarshalGQL", uName: "UnmarshalGQL", build: buildGQL},
	{marshal: jsonMarshalerType, unmarshal: jsonUnmarshalerType, mName: "MarshalJSON", uName: "UnmarshalJSON", build: buildJSONMethods},
	{marshal: textMarshalerType, unmarshal: textUnmarshalerType, mName: "MarshalText", uName: "UnmarshalText", build: buildText},
}

func implements(t, iface reflect.Type) bool {
	return iface != nil && t.Implements(iface)
}

func (b *builder) build(t reflect.Type, path string) (encFunc, decFunc, error) {
	k := t.Kind()
	// Pointers are null-or-value whatever their methods, so that a nil never
	// reaches a marshaler; interfaces are resolved through impls.
	if k != reflect.Pointer && k != reflect.Interface {
		pt := reflect.PointerTo(t)
		half := ""
		for _, p := range pairs {
			hasM := implements(t, p.marshal) || implements(pt, p.marshal) || implements(t, p.ctxM) || implements(pt, p.ctxM)
			hasU := implements(pt, p.unmarshal) || implements(pt, p.ctxU)
			switch {
			case hasM && hasU:
				if err := b.checkPromoted(t, p, path); err != nil {
					return nil, nil, err
				}
				valueRecv := implements(t, p.marshal) || implements(t, p.ctxM)
				enc, dec := p.build(!valueRecv)
				return enc, dec, nil
			case hasM && half == "":
				half = fmt.Sprintf("%v has %s but *%v has no %s: a cached value could not be turned back into a %v", t, p.mName, t, p.uName, t)
			case hasU && half == "":
				half = fmt.Sprintf("*%v has %s but %v has no %s: a %v could not be written to the cache", t, p.uName, t, p.mName, t)
			}
		}
		if half != "" {
			return nil, nil, b.refuse(path, "%s", half)
		}
	}
	switch k {
	case reflect.Bool:
		return encBool, decBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encInt, decInt(t.Bits()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return encUint, decUint(t.Bits()), nil
	case reflect.Float32, reflect.Float64:
		return encFloat, decFloat(t.Bits()), nil
	case reflect.String:
		return encString, decString, nil
	case reflect.Pointer:
		return b.buildPointer(t, path)
	case reflect.Slice:
		return b.buildSlice(t, path)
	case reflect.Array:
		return b.buildArray(t, path)
	case reflect.Map:
		return b.buildMap(t, path)
	case reflect.Struct:
		return b.buildStruct(t, path)
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return encAny, decAny, nil
		}
		return b.buildInterface(t, path)
	}
	return nil, nil, b.refuse(path, "%v is a %v, which has no cached form", t, k)
}

// checkPromoted refuses a struct whose marshaler comes from an embedded
// field: the method would encode only that field and silently drop the rest.
// reflect cannot tell a promoted method from one the struct redeclares, so a
// struct that does both is refused too; naming the field is the way out.
func (b *builder) checkPromoted(t reflect.Type, p pair, path string) error {
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		ft := f.Type
		if implements(ft, p.marshal) || implements(reflect.PointerTo(ft), p.marshal) || implements(ft, p.ctxM) || implements(reflect.PointerTo(ft), p.ctxM) {
			return b.refuse(path, "%v gets %s from its embedded %v, which would drop its other fields: give the embedded field a name", t, p.mName, ft)
		}
	}
	return nil
}

// addr gives a method with a pointer receiver something to be called on when
// the value being encoded is not addressable (a map value, a top-level value).
func addr(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v.Addr()
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p
}

func recv(v reflect.Value, ptr bool) any {
	if ptr {
		return addr(v).Interface()
	}
	return v.Interface()
}

func buildGQL(ptrM bool) (encFunc, decFunc) {
	enc := func(e *encState, v reflect.Value) error {
		e.tmp.Reset()
		switch m := recv(v, ptrM).(type) {
		case graphql.ContextMarshaler:
			if err := m.MarshalGQLContext(context.Background(), &e.tmp); err != nil {
				return err
			}
		case graphql.Marshaler:
			m.MarshalGQL(&e.tmp)
		}
		return e.enc.WriteValue(jsontext.Value(e.tmp.Bytes()))
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := d.ReadValue()
		if err != nil {
			return err
		}
		jd := json.NewDecoder(bytes.NewReader(raw))
		jd.UseNumber()
		var x any
		if err := jd.Decode(&x); err != nil {
			return err
		}
		switch u := v.Addr().Interface().(type) {
		case graphql.ContextUnmarshaler:
			return u.UnmarshalGQLContext(context.Background(), x)
		case graphql.Unmarshaler:
			return u.UnmarshalGQL(x)
		}
		return nil
	}
	return enc, dec
}

func buildJSONMethods(ptrM bool) (encFunc, decFunc) {
	enc := func(e *encState, v reflect.Value) error {
		raw, err := recv(v, ptrM).(json.Marshaler).MarshalJSON()
		if err != nil {
			return err
		}
		return e.enc.WriteValue(raw)
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := d.ReadValue()
		if err != nil {
			return err
		}
		return v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw)
	}
	return enc, dec
}

func buildText(ptrM bool) (encFunc, decFunc) {
	enc := func(e *encState, v reflect.Value) error {
		text, err := recv(v, ptrM).(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return err
		}
		return e.enc.WriteToken(jsontext.String(string(text)))
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := readString(d)
		if err != nil {
			return err
		}
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText(raw)
	}
	return enc, dec
}

func encBool(e *encState, v reflect.Value) error {
	return e.enc.WriteToken(jsontext.Bool(v.Bool()))
}

func decBool(d *jsontext.Decoder, v reflect.Value) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if k := tok.Kind(); k != 't' && k != 'f' {
		return kindError(v.Type(), k)
	}
	v.SetBool(tok.Bool())
	return nil
}

func encInt(e *encState, v reflect.Value) error {
	return e.enc.WriteToken(jsontext.Int(v.Int()))
}

// Integers are parsed from the raw text rather than through Token.Int, which
// would truncate a fraction or clamp an overflow instead of failing.
func decInt(bits int) decFunc {
	return func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := readNumber(d, v.Type())
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(raw), 10, bits)
		if err != nil {
			return err
		}
		v.SetInt(n)
		return nil
	}
}

func encUint(e *encState, v reflect.Value) error {
	return e.enc.WriteToken(jsontext.Uint(v.Uint()))
}

func decUint(bits int) decFunc {
	return func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := readNumber(d, v.Type())
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(string(raw), 10, bits)
		if err != nil {
			return err
		}
		v.SetUint(n)
		return nil
	}
}

func encFloat(e *encState, v reflect.Value) error {
	f := v.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%v has no JSON form", f)
	}
	return e.enc.WriteToken(jsontext.Float(f))
}

func decFloat(bits int) decFunc {
	return func(d *jsontext.Decoder, v reflect.Value) error {
		raw, err := readNumber(d, v.Type())
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil {
			return err
		}
		v.SetFloat(f)
		return nil
	}
}

func encString(e *encState, v reflect.Value) error {
	return e.enc.WriteToken(jsontext.String(v.String()))
}

func decString(d *jsontext.Decoder, v reflect.Value) error {
	raw, err := readString(d)
	if err != nil {
		return err
	}
	v.SetString(string(raw))
	return nil
}

func kindError(t reflect.Type, k jsontext.Kind) error {
	return fmt.Errorf("cannot read a %v from JSON %v", t, k)
}

func readNumber(d *jsontext.Decoder, t reflect.Type) (jsontext.Value, error) {
	raw, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	if k := raw.Kind(); k != '0' {
		return nil, kindError(t, k)
	}
	return raw, nil
}

// readString returns the unquoted string, aliasing the decoder's buffer when
// there is nothing to unescape; it is valid only until the next read.
func readString(d *jsontext.Decoder) ([]byte, error) {
	raw, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	if k := raw.Kind(); k != '"' {
		return nil, fmt.Errorf("expected a JSON string, got %v", k)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	return jsontext.AppendUnquote(nil, raw)
}

func readDelim(d *jsontext.Decoder, t reflect.Type, want jsontext.Kind) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if k := tok.Kind(); k != want {
		return kindError(t, k)
	}
	return nil
}

// readNull consumes a null if one is next; nullable kinds use it to tell
// null from a value.
func readNull(d *jsontext.Decoder) (bool, error) {
	if d.PeekKind() != 'n' {
		return false, nil
	}
	_, err := d.ReadToken()
	return true, err
}

func (b *builder) buildPointer(t reflect.Type, path string) (encFunc, decFunc, error) {
	elem, err := b.compile(t.Elem(), path)
	if err != nil {
		return nil, nil, err
	}
	et := t.Elem()
	enc := func(e *encState, v reflect.Value) error {
		if v.IsNil() {
			return e.enc.WriteToken(jsontext.Null)
		}
		return elem.enc(e, v.Elem())
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if null, err := readNull(d); null || err != nil {
			v.SetZero()
			return err
		}
		if v.IsNil() {
			v.Set(reflect.New(et))
		}
		return elem.dec(d, v.Elem())
	}
	return enc, dec, nil
}

func (b *builder) buildSlice(t reflect.Type, path string) (encFunc, decFunc, error) {
	elem, err := b.compile(t.Elem(), path+"[]")
	if err != nil {
		return nil, nil, err
	}
	enc := func(e *encState, v reflect.Value) error {
		// null and [] are different GraphQL answers.
		if v.IsNil() {
			return e.enc.WriteToken(jsontext.Null)
		}
		if err := e.enc.WriteToken(jsontext.BeginArray); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := elem.enc(e, v.Index(i)); err != nil {
				return err
			}
		}
		return e.enc.WriteToken(jsontext.EndArray)
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if null, err := readNull(d); null || err != nil {
			v.SetZero()
			return err
		}
		if err := readDelim(d, t, '['); err != nil {
			return err
		}
		v.Set(reflect.MakeSlice(t, 0, 0))
		n := 0
		for d.PeekKind() != ']' {
			if n == v.Cap() {
				v.Grow(1)
			}
			v.SetLen(n + 1)
			if err := elem.dec(d, v.Index(n)); err != nil {
				return err
			}
			n++
		}
		_, err := d.ReadToken()
		return err
	}
	return enc, dec, nil
}

func (b *builder) buildArray(t reflect.Type, path string) (encFunc, decFunc, error) {
	elem, err := b.compile(t.Elem(), path+"[]")
	if err != nil {
		return nil, nil, err
	}
	enc := func(e *encState, v reflect.Value) error {
		if err := e.enc.WriteToken(jsontext.BeginArray); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := elem.enc(e, v.Index(i)); err != nil {
				return err
			}
		}
		return e.enc.WriteToken(jsontext.EndArray)
	}
	n := t.Len()
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if err := readDelim(d, t, '['); err != nil {
			return err
		}
		for i := range n {
			if d.PeekKind() == ']' {
				return fmt.Errorf("%v needs %d elements, got %d", t, n, i)
			}
			if err := elem.dec(d, v.Index(i)); err != nil {
				return err
			}
		}
		if err := readDelim(d, t, ']'); err != nil {
			return fmt.Errorf("%v needs %d elements: %w", t, n, err)
		}
		return nil
	}
	return enc, dec, nil
}

func (b *builder) buildMap(t reflect.Type, path string) (encFunc, decFunc, error) {
	kt := t.Key()
	if kt.Kind() != reflect.String {
		return nil, nil, b.refuse(path, "%v has %v keys: only string-kinded keys have a JSON form", t, kt)
	}
	elem, err := b.compile(t.Elem(), path+"[key]")
	if err != nil {
		return nil, nil, err
	}
	et := t.Elem()
	enc := func(e *encState, v reflect.Value) error {
		if v.IsNil() {
			return e.enc.WriteToken(jsontext.Null)
		}
		if err := e.enc.WriteToken(jsontext.BeginObject); err != nil {
			return err
		}
		// Sorted keys make equal maps encode to equal bytes.
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return cmpString(a.String(), b.String())
		})
		for _, k := range keys {
			if err := e.enc.WriteToken(jsontext.String(k.String())); err != nil {
				return err
			}
			if err := elem.enc(e, v.MapIndex(k)); err != nil {
				return err
			}
		}
		return e.enc.WriteToken(jsontext.EndObject)
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if null, err := readNull(d); null || err != nil {
			v.SetZero()
			return err
		}
		if err := readDelim(d, t, '{'); err != nil {
			return err
		}
		v.Set(reflect.MakeMap(t))
		for d.PeekKind() != '}' {
			name, err := readString(d)
			if err != nil {
				return err
			}
			k := reflect.New(kt).Elem()
			k.SetString(string(name))
			ev := reflect.New(et).Elem()
			if err := elem.dec(d, ev); err != nil {
				return err
			}
			v.SetMapIndex(k, ev)
		}
		_, err := d.ReadToken()
		return err
	}
	return enc, dec, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type field struct {
	index int
	name  string
	codec *typeCodec
}

func (b *builder) buildStruct(t reflect.Type, path string) (encFunc, decFunc, error) {
	var fields []field
	byName := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "_" {
			continue // padding carries nothing
		}
		if !f.IsExported() {
			return nil, nil, b.refuse(path+"."+f.Name, "%v.%s is unexported: a cached value cannot carry it; export it or give %v MarshalJSON/UnmarshalJSON", t, f.Name, t)
		}
		fc, err := b.compile(f.Type, path+"."+f.Name)
		if err != nil {
			return nil, nil, err
		}
		byName[f.Name] = len(fields)
		fields = append(fields, field{index: i, name: f.Name, codec: fc})
	}
	enc := func(e *encState, v reflect.Value) error {
		if err := e.enc.WriteToken(jsontext.BeginObject); err != nil {
			return err
		}
		for _, f := range fields {
			if err := e.enc.WriteToken(jsontext.String(f.name)); err != nil {
				return err
			}
			if err := f.codec.enc(e, v.Field(f.index)); err != nil {
				return err
			}
		}
		return e.enc.WriteToken(jsontext.EndObject)
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if err := readDelim(d, t, '{'); err != nil {
			return err
		}
		// The decoder rejects duplicate names, so counting is enough to know
		// every field was present: an entry written for another version of
		// the type must not come back with fields silently zero.
		seen := 0
		for d.PeekKind() != '}' {
			name, err := readString(d)
			if err != nil {
				return err
			}
			i, ok := byName[string(name)]
			if !ok {
				return fmt.Errorf("%v has no field %q", t, name)
			}
			f := fields[i]
			if err := f.codec.dec(d, v.Field(f.index)); err != nil {
				return err
			}
			seen++
		}
		if seen != len(fields) {
			return fmt.Errorf("%v: %d of its %d fields are missing", t, len(fields)-seen, len(fields))
		}
		_, err := d.ReadToken()
		return err
	}
	return enc, dec, nil
}

// any holds whatever gqlgen's Any and Map scalars parsed, which is what
// encoding/json produces; UseNumber keeps integers exact.
func encAny(e *encState, v reflect.Value) error {
	var x any
	if v.IsValid() {
		x = v.Interface()
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return e.enc.WriteValue(raw)
}

func decAny(d *jsontext.Decoder, v reflect.Value) error {
	raw, err := d.ReadValue()
	if err != nil {
		return err
	}
	jd := json.NewDecoder(bytes.NewReader(raw))
	jd.UseNumber()
	var x any
	if err := jd.Decode(&x); err != nil {
		return err
	}
	if x != nil {
		v.Set(reflect.ValueOf(x))
	} else {
		v.SetZero()
	}
	return nil
}

type impl struct {
	name  string
	t     reflect.Type
	codec *typeCodec
}

func (b *builder) buildInterface(t reflect.Type, path string) (encFunc, decFunc, error) {
	names, ok := b.impls[t]
	if !ok {
		return nil, nil, b.refuse(path, "interface %v has no registered implementations: without them a cached value's concrete type cannot be recovered", t)
	}
	byType := make(map[reflect.Type]impl, len(names))
	byName := make(map[string]impl, len(names))
	for name, ct := range names {
		if ct == nil || !ct.Implements(t) {
			return nil, nil, b.refuse(path, "%v is registered as GraphQL type %s for interface %v but does not implement it", ct, name, t)
		}
		if ct.Kind() == reflect.Interface {
			return nil, nil, b.refuse(path, "%v is registered as GraphQL type %s for %v but is an interface, not a concrete type", ct, name, t)
		}
		if prev, dup := byType[ct]; dup {
			return nil, nil, b.refuse(path, "%v is registered for %v as both %s and %s", ct, t, prev.name, name)
		}
		cc, err := b.compile(ct, path+"("+name+")")
		if err != nil {
			return nil, nil, err
		}
		im := impl{name: name, t: ct, codec: cc}
		byType[ct] = im
		byName[name] = im
	}
	enc := func(e *encState, v reflect.Value) error {
		if v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		if !v.IsValid() {
			return e.enc.WriteToken(jsontext.Null)
		}
		im, ok := byType[v.Type()]
		if !ok {
			return fmt.Errorf("%v is not registered as an implementation of %v", v.Type(), t)
		}
		if err := e.enc.WriteToken(jsontext.BeginObject); err != nil {
			return err
		}
		if err := e.enc.WriteToken(jsontext.String("t")); err != nil {
			return err
		}
		if err := e.enc.WriteToken(jsontext.String(im.name)); err != nil {
			return err
		}
		if err := e.enc.WriteToken(jsontext.String("v")); err != nil {
			return err
		}
		if err := im.codec.enc(e, v); err != nil {
			return err
		}
		return e.enc.WriteToken(jsontext.EndObject)
	}
	dec := func(d *jsontext.Decoder, v reflect.Value) error {
		if null, err := readNull(d); null || err != nil {
			v.SetZero()
			return err
		}
		if err := readDelim(d, t, '{'); err != nil {
			return err
		}
		// "t" must come first: the value cannot be read before its type is known.
		if err := readName(d, "t"); err != nil {
			return err
		}
		name, err := readString(d)
		if err != nil {
			return err
		}
		im, ok := byName[string(name)]
		if !ok {
			return fmt.Errorf("%q is not a registered implementation of %v", name, t)
		}
		if err := readName(d, "v"); err != nil {
			return err
		}
		cv := reflect.New(im.t).Elem()
		if err := im.codec.dec(d, cv); err != nil {
			return err
		}
		v.Set(cv)
		return readDelim(d, t, '}')
	}
	return enc, dec, nil
}

func readName(d *jsontext.Decoder, want string) error {
	if d.PeekKind() != '"' {
		_, err := d.ReadToken()
		if err == nil {
			err = fmt.Errorf("expected member %q", want)
		}
		return err
	}
	name, err := readString(d)
	if err != nil {
		return err
	}
	if string(name) != want {
		return fmt.Errorf("expected member %q, got %q", want, name)
	}
	return nil
}
