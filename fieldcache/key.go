package fieldcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/cache"
)

// query is the cache query of the field fc is resolving.
func (f *cachedField) query(ctx context.Context, fc *graphql.FieldContext) (cache.Query, error) {
	args := fc.Args
	if f.rawArgs {
		args = fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
	}
	var parent any
	if f.identity != nil {
		if fc.Parent == nil {
			return cache.Query{}, errors.New("no parent")
		}
		parent = fc.Parent.Result
	}
	return f.queryFor(args, parent)
}

// queryFor is the cache query of the field for args, under parent: the
// field's coordinate, its arguments, the parent's identity and the shape of
// its Go type. Aliases, operation names, variable names and the order of
// arguments never reach it, so they never change the key.
func (f *cachedField) queryFor(args map[string]any, parent any) (cache.Query, error) {
	if f.rawArgs || f.identity != nil || f.fingerprint != "" {
		plain, err := keyValue(args)
		if err != nil {
			return cache.Query{}, err
		}
		// A map of its own, sized for what the key adds: keyValue may
		// return a gqlgen-owned map unchanged, and the resolver must not
		// see the additions.
		m, _ := plain.(map[string]any)
		args = make(map[string]any, len(m)+2)
		maps.Copy(args, m)
	}
	if f.identity != nil {
		id, ok := f.identity(parent)
		if !ok {
			return cache.Query{}, fmt.Errorf("no identity in a parent of type %T", parent)
		}
		v, err := keyValue(id)
		if err != nil {
			return cache.Query{}, fmt.Errorf("identity: %w", err)
		}
		args[parentArg] = v
	}
	if f.fingerprint != "" {
		args[typeArg] = f.fingerprint
	}
	return cache.Query{Field: f.coordinate, Args: args, Policy: f.policy}, nil
}

// keyValue turns an argument or identity into the values a cache key
// encodes: strings, integers, floats, booleans, nil, lists and maps of
// them. Enums and other string-kinded values become their strings, JSON
// numbers from variables their integer or float, custom scalars the text
// MarshalGQL writes. Anything else is refused: a key that guessed could
// give two values one entry.
func keyValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int, int32, int64, float64:
		return v, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q", v)
		}
		return f, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := keyValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		var out map[string]any
		for k, x := range v {
			y, err := keyValue(x)
			if err != nil {
				return nil, err
			}
			if out == nil && !sameValue(x, y) {
				out = maps.Clone(v)
			}
			if out != nil {
				out[k] = y
			}
		}
		if out == nil {
			return v, nil
		}
		return out, nil
	case graphql.Marshaler:
		var b bytes.Buffer
		v.MarshalGQL(&b)
		return b.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u := rv.Uint(); u <= 1<<63-1 {
			return int64(u), nil
		}
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return keyValue(rv.Elem().Interface())
	}
	return nil, fmt.Errorf("unsupported key value of type %T", v)
}

// sameValue reports whether keyValue left x as it was, so a map of plain
// values is not copied.
func sameValue(x, y any) bool {
	switch x.(type) {
	case nil, string, bool, int, int32, int64, float64:
		return true
	case []any, map[string]any:
		// Rebuilt or checked: a new list or map means a change below.
		return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	return false
}

// fingerprint names the shape of t: its kinds, type names, field names and
// element types, all the way down, so that an entry stored by a build with
// another shape is never decoded into this one's.
// The implementations of an interface are part of its shape.
func fingerprint(t reflect.Type, impls map[reflect.Type]map[string]reflect.Type) string {
	h := sha256.New()
	seen := map[reflect.Type]int{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if n, ok := seen[t]; ok {
			fmt.Fprintf(h, "@%d;", n)
			return
		}
		seen[t] = len(seen)
		fmt.Fprintf(h, "%s|%s.%s|", t.Kind(), t.PkgPath(), t.Name())
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			if t.Kind() == reflect.Array {
				fmt.Fprintf(h, "%d|", t.Len())
			}
			if t.Kind() == reflect.Map {
				walk(t.Key())
			}
			walk(t.Elem())
		case reflect.Interface:
			for _, name := range slices.Sorted(maps.Keys(impls[t])) {
				fmt.Fprintf(h, "%s=", name)
				walk(impls[t][name])
			}
		case reflect.Struct:
			for i := range t.NumField() {
				sf := t.Field(i)
				fmt.Fprintf(h, "%s:", sf.Name)
				walk(sf.Type)
			}
		}
		h.Write([]byte{';'})
	}
	walk(t)
	return hex.EncodeToString(h.Sum(nil)[:8])
}
