// Package cachegen is a gqlgen plugin that writes cachefields.go into the
// exec package: func CacheFields() *fieldcache.Fields, the registry the
// fieldcache extension needs and cannot read from the schema. It records the
// Go type each @cacheControl field resolves to, the Go types behind each
// interface and union, and how to read each object type's identity from its
// Go value. Generating it with the rest of gqlgen's code keeps it in step
// with the resolvers: a changed schema or binding changes the registry too,
// and a key that cannot be read without running a resolver fails go generate
// instead of failing at start.
//
// Use it through the gqlgen-cache command (cmd/gqlgen-cache), or add it to
// a generate program of your own:
//
//	api.Generate(cfg, api.AddPlugin(cachegen.New()))
package cachegen

import (
	_ "embed"
	"fmt"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/templates"
	"github.com/99designs/gqlgen/plugin"
	"github.com/vektah/gqlparser/v2/ast"
)

// Filename is the file the plugin writes into the exec package's directory.
const Filename = "cachefields.go"

// The directives the plugin reads. Schemas declare them themselves, as the
// extension reads the same directives from the schema at run time.
const (
	cacheControlDirective = "cacheControl"
	cacheKeyDirective     = "cacheKey"
)

//go:embed cachefields.gotpl
var tmpl string

// New returns the plugin.
func New() plugin.Plugin { return &Plugin{} }

// Plugin generates cachefields.go. See the package documentation.
type Plugin struct{}

var _ plugin.CodeGenerator = (*Plugin)(nil)

// Name is the plugin's name, which gqlgen puts in front of its errors.
func (*Plugin) Name() string { return "cachegen" }

// The template's data. Types stay go/types values so that the template
// renders them through gqlgen's import tracking (ref), which adds and aliases
// the imports they need.
type (
	build struct {
		Fields          []field
		Implementations []implementation
		Identities      []identity
	}
	field struct {
		Coordinate string
		Type       types.Type
	}
	implementation struct {
		Name      string // the implementing object type
		Interface types.Type
		Type      types.Type
	}
	identity struct {
		Name string
		Type types.Type
		// Reads are the Go expressions reading each key field from p, a *P.
		Reads []string
	}
)

// GenerateCode writes cachefields.go, or fails when an identity cannot be
// read from an object's Go value.
func (*Plugin) GenerateCode(data *codegen.Data) error {
	b, err := collect(data)
	if err != nil {
		return err
	}
	return templates.Render(templates.Options{
		PackageName:     data.Config.Exec.Package,
		Filename:        filepath.Join(data.Config.Exec.Dir(), Filename),
		GeneratedHeader: true,
		Template:        tmpl,
		Data:            b,
		Packages:        data.Config.Packages,
		PruneOptions:    data.Config.GetPruneOptions(),
	})
}

// collect reads what the registry records from gqlgen's data, sorted so that
// the output does not depend on map order.
func collect(data *codegen.Data) (*build, error) {
	b := &build{}
	for _, obj := range data.Objects {
		if obj.BuiltIn {
			continue
		}
		// Mutations and subscriptions are never cached: the extension refuses
		// @cacheControl on them at start, with a message, so they are left out
		// here rather than failing generation twice over.
		if !isMutationOrSubscription(data, obj) {
			for _, f := range obj.Fields {
				if f.FieldDefinition.Directives.ForName(cacheControlDirective) == nil {
					continue
				}
				b.Fields = append(b.Fields, field{
					Coordinate: obj.Name + "." + f.Name,
					Type:       f.TypeReference.GO,
				})
			}
		}
		// A root type has no parent value to read an identity from.
		if obj.Root {
			continue
		}
		id, err := identityOf(obj)
		if err != nil {
			return nil, err
		}
		if id != nil {
			b.Identities = append(b.Identities, *id)
		}
	}
	for _, iface := range data.Interfaces {
		if iface.BuiltIn {
			continue
		}
		seen := map[string]bool{}
		for _, impl := range iface.Implementors {
			// gqlgen lists an implementor twice when both T and *T implement
			// the interface; Implementation records both from T.
			if seen[impl.Name] {
				continue
			}
			seen[impl.Name] = true
			t := impl.Type
			if p, ok := t.(*types.Pointer); ok {
				t = p.Elem()
			}
			b.Implementations = append(b.Implementations, implementation{
				Name:      impl.Name,
				Interface: iface.Type,
				Type:      t,
			})
		}
	}
	slices.SortFunc(b.Fields, func(x, y field) int { return strings.Compare(x.Coordinate, y.Coordinate) })
	slices.SortFunc(b.Implementations, func(x, y implementation) int {
		if c := strings.Compare(types.TypeString(x.Interface, nil), types.TypeString(y.Interface, nil)); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	slices.SortFunc(b.Identities, func(x, y identity) int { return strings.Compare(x.Name, y.Name) })
	return b, nil
}

func isMutationOrSubscription(data *codegen.Data, obj *codegen.Object) bool {
	return (data.Schema.Mutation != nil && obj.Name == data.Schema.Mutation.Name) ||
		(data.Schema.Subscription != nil && obj.Name == data.Schema.Subscription.Name)
}

// identityOf returns how to read obj's key fields: those @cacheKey names,
// else a field named id. It returns nil for a type without key fields, and an
// error for a key field that cannot be read from the parent value without
// running a resolver, since the extension must key a cached field by its
// parent's identity before deciding whether to run anything.
func identityOf(obj *codegen.Object) (*identity, error) {
	var names []string
	explicit := obj.Definition.Directives.ForName(cacheKeyDirective)
	if explicit != nil {
		var err error
		if names, err = cacheKeyFields(obj.Name, explicit); err != nil {
			return nil, err
		}
	} else if obj.Definition.Fields.ForName("id") != nil {
		names = []string{"id"}
	} else {
		return nil, nil
	}
	id := &identity{Name: obj.Name, Type: obj.Type}
	for _, name := range names {
		read, err := readKey(obj, name, explicit != nil)
		if err != nil {
			return nil, err
		}
		id.Reads = append(id.Reads, read)
	}
	return id, nil
}

// cacheKeyFields reads @cacheKey(fields: [...]).
func cacheKeyFields(typename string, d *ast.Directive) ([]string, error) {
	arg := d.Arguments.ForName("fields")
	if arg == nil || arg.Value == nil {
		return nil, fmt.Errorf("%s: @cacheKey needs fields: [...]", typename)
	}
	v, err := arg.Value.Value(nil)
	if err != nil {
		return nil, fmt.Errorf("%s: @cacheKey(fields:): %w", typename, err)
	}
	list, ok := v.([]any)
	if !ok {
		// GraphQL coerces a single value to a one-element list.
		list = []any{v}
	}
	var names []string
	seen := map[string]bool{}
	for _, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: @cacheKey(fields:) must be a list of field names, got %v", typename, e)
		}
		if seen[s] {
			return nil, fmt.Errorf("%s: @cacheKey(fields:) names %s twice", typename, s)
		}
		seen[s] = true
		names = append(names, s)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: @cacheKey(fields:) names no field", typename)
	}
	return names, nil
}

// readKey returns the Go expression reading the key field name from p.
func readKey(obj *codegen.Object, name string, explicit bool) (string, error) {
	why := obj.Name + "'s identity keys the cached fields under it, so it must be read from the parent value without running a resolver"
	if !explicit {
		why += "; declare @cacheKey(fields: [...]) on " + obj.Name + " to key it by other fields"
	}
	var f *codegen.Field
	for _, c := range obj.Fields {
		if c.Name == name {
			f = c
			break
		}
	}
	switch {
	case f == nil:
		return "", fmt.Errorf("%s.%s: @cacheKey names a field %s does not have", obj.Name, name, obj.Name)
	case f.IsResolver:
		return "", fmt.Errorf("%s.%s is a key field but has its own resolver: %s", obj.Name, name, why)
	case f.IsMap():
		return "", fmt.Errorf("%s.%s is a key field but %s is bound to a map, not a struct: %s", obj.Name, name, obj.Name, why)
	case len(f.Args) > 0:
		return "", fmt.Errorf("%s.%s is a key field but takes arguments: %s", obj.Name, name, why)
	case f.IsVariable():
		return "p." + f.GoFieldName, nil
	case f.IsMethod():
		switch {
		case f.MethodHasContext:
			return "", fmt.Errorf("%s.%s is a key field but its method %s needs a context: %s", obj.Name, name, f.GoFieldName, why)
		case f.VOkFunc:
			return "", fmt.Errorf("%s.%s is a key field but its method %s returns (value, ok): %s", obj.Name, name, f.GoFieldName, why)
		case !f.NoErr:
			return "", fmt.Errorf("%s.%s is a key field but its method %s returns an error: %s", obj.Name, name, f.GoFieldName, why)
		}
		// A type bound to a Go interface has its methods on the value:
		// a pointer to an interface has none.
		if types.IsInterface(obj.Type) {
			return "(*p)." + f.GoFieldName + "()", nil
		}
		return "p." + f.GoFieldName + "()", nil
	}
	return "", fmt.Errorf("%s.%s is a key field but is not bound to a struct field or method: %s", obj.Name, name, why)
}
