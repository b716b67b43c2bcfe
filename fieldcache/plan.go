package fieldcache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
)

// plan is what the extension does for one field of the schema: answer it
// from the cache (cached), read its list's cached fields together
// (children), or both.
type plan struct {
	cached   *cachedField
	children []*cachedField // the cached fields of elem, the object type its list holds
	elem     string
}

// cachedField is one cached field.
type cachedField struct {
	coordinate string
	def        *ast.FieldDefinition
	policy     cache.Policy
	codec      *codec
	custom     Codec // when set, stores the values instead of codec
	// rawArgs keys the field by its arguments as the operation wrote them
	// (variables substituted, defaults applied), not as gqlgen coerced
	// them to Go values, whose types the key cannot all encode. Fields
	// whose arguments are all non-null built-in scalars use gqlgen's,
	// which cost nothing more to read.
	rawArgs bool
	// identity reads the parent's identity; nil for a field of the query
	// type, which has none.
	identity func(parent any) (any, bool)
	// fingerprint names the shape of the Go type stored, so that a build
	// whose type changed never reads what an older one stored.
	fingerprint string
	tags        []tagTemplate
	counts      [statusCount]prometheus.Counter
}

// The names under which a field's key carries what is not an argument.
// GraphQL reserves names starting "__", so no argument can take them.
const (
	parentArg = "__parent"
	typeArg   = "__type"
)

func compile(schema *ast.Schema, fields *Fields, opts Options) (map[*ast.FieldDefinition]*plan, error) {
	plans := map[*ast.FieldDefinition]*plan{}
	byType := map[string][]*cachedField{}
	var errs []error
	names := slices.Sorted(maps.Keys(schema.Types))
	for _, name := range names {
		def := schema.Types[name]
		if def.Kind != ast.Object || strings.HasPrefix(name, "__") {
			continue
		}
		for _, fd := range def.Fields {
			d := fd.Directives.ForName("cacheControl")
			if d == nil {
				continue
			}
			f, err := compileField(schema, def, fd, d, fields, opts)
			if err != nil {
				errs = append(errs, fmt.Errorf("fieldcache: %s.%s: %w", name, fd.Name, err))
				continue
			}
			plans[fd] = &plan{cached: f}
			byType[name] = append(byType[name], f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, name := range names {
		def := schema.Types[name]
		if def.Kind != ast.Object {
			continue
		}
		for _, fd := range def.Fields {
			elem := fd.Type.Name()
			if fd.Type.Elem == nil || len(byType[elem]) == 0 {
				continue
			}
			p := plans[fd]
			if p == nil {
				p = &plan{}
				plans[fd] = p
			}
			p.children, p.elem = byType[elem], elem
		}
	}
	return plans, nil
}

// compileField reads one field's directive and checks that it can be
// cached. A maxAge of zero is kept: the cache then never stores the field's
// answers, but other doors still address it by the same query.
func compileField(schema *ast.Schema, def *ast.Definition, fd *ast.FieldDefinition, d *ast.Directive, fields *Fields, opts Options) (*cachedField, error) {
	if (schema.Mutation != nil && def.Name == schema.Mutation.Name) || (schema.Subscription != nil && def.Name == schema.Subscription.Name) {
		return nil, errors.New("@cacheControl on a mutation or subscription field: only what queries read is cached")
	}
	f := &cachedField{coordinate: def.Name + "." + fd.Name, def: fd, policy: cache.Policy{TTL: opts.MaxAge, Scope: opts.Scope}}
	if err := readDirective(&f.policy, d); err != nil {
		return nil, err
	}
	if c := fields.custom[f.coordinate]; c != nil {
		f.custom = c
	} else if err := f.typed(fields); err != nil {
		return nil, err
	}
	if schema.Query == nil || def.Name != schema.Query.Name {
		f.identity = fields.ids[def.Name]
		if f.identity == nil {
			return nil, fmt.Errorf("%s has no identity, so two %s objects could share its entries: give %s an id field, or @cacheKey(fields: [...]) naming the fields that identify it", def.Name, def.Name, def.Name)
		}
	}
	for _, a := range fd.Arguments {
		if a.Type.Elem != nil || !a.Type.NonNull || !builtinScalar[a.Type.NamedType] {
			f.rawArgs = true
		}
	}
	if a := d.Arguments.ForName("tags"); a != nil && a.Value.Kind == ast.ListValue {
		for _, c := range a.Value.Children {
			t, err := parseTag(c.Value.Raw, fd, f.identity != nil)
			if err != nil {
				return nil, err
			}
			f.tags = append(f.tags, t)
		}
	}
	return f, nil
}

// typed gives the field the typed codec of its Go type.
func (f *cachedField) typed(fields *Fields) error {
	t, ok := fields.types[f.coordinate]
	if !ok {
		return errors.New("no Go type is recorded for it: regenerate with go run github.com/gqlcache/gqlcache/cmd/gqlgen-cache")
	}
	c, err := newCodec(t, fields.impls)
	if err != nil {
		return fmt.Errorf("its Go type %v cannot be cached: %w", t, err)
	}
	f.codec = c
	f.fingerprint = fingerprint(t, fields.impls)
	return nil
}

var builtinScalar = map[string]bool{"String": true, "ID": true, "Int": true, "Float": true, "Boolean": true}

func readDirective(p *cache.Policy, d *ast.Directive) error {
	if a := d.Arguments.ForName("maxAge"); a != nil && a.Value.Kind != ast.NullValue {
		n, err := strconv.Atoi(a.Value.Raw)
		if err != nil || n < 0 {
			return fmt.Errorf("@cacheControl: maxAge must be a whole number of seconds, got %s", a.Value.Raw)
		}
		p.TTL = time.Duration(n) * time.Second
	}
	if a := d.Arguments.ForName("scope"); a != nil && a.Value.Kind != ast.NullValue {
		switch a.Value.Raw {
		case "PUBLIC":
			p.Scope = cache.ScopePublic
		case "PRIVATE":
			p.Scope = cache.ScopePrivate
		default:
			return fmt.Errorf("@cacheControl: unknown scope %s", a.Value.Raw)
		}
	}
	return nil
}

// A tagTemplate is a tag written on the directive: literal text and
// placeholders, each "{argument}" or, for a field with a parent, "{parent}".
type tagTemplate []tagPart

type tagPart struct {
	text string
	arg  string // "" for text
}

func parseTag(s string, fd *ast.FieldDefinition, hasParent bool) (tagTemplate, error) {
	var t tagTemplate
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			t = append(t, tagPart{text: s})
			break
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("@cacheControl: tag %q: unclosed {", s)
		}
		if open > 0 {
			t = append(t, tagPart{text: s[:open]})
		}
		name := s[open+1 : open+end]
		switch {
		case name == "parent" && hasParent:
			t = append(t, tagPart{arg: parentArg})
		case fd.Arguments.ForName(name) != nil:
			t = append(t, tagPart{arg: name})
		default:
			return nil, fmt.Errorf("@cacheControl: tag %q: {%s} is neither an argument of the field nor {parent} of a field with one", s, name)
		}
		s = s[open+end+1:]
	}
	return t, nil
}

// tagsFor renders the field's tag templates for one query's arguments.
func (f *cachedField) tagsFor(q cache.Query) []string {
	if len(f.tags) == 0 {
		return nil
	}
	tags := make([]string, 0, len(f.tags))
	for _, t := range f.tags {
		var b strings.Builder
		for _, p := range t {
			if p.arg == "" {
				b.WriteString(p.text)
				continue
			}
			writeTagValue(&b, q.Args[p.arg])
		}
		tags = append(tags, b.String())
	}
	return tags
}

func writeTagValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			if i > 0 {
				b.WriteByte('/')
			}
			writeTagValue(b, x)
		}
	case string:
		b.WriteString(v)
	case nil:
		b.WriteString("null")
	default:
		fmt.Fprint(b, v)
	}
}
