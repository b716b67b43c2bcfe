package resolvers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/cache"
)

// Policies is every field's cache policy, read once from the schema's
// @cacheControl directives: a maxAge or scope written on a field wins over
// the configured default for that field.
type Policies struct {
	def    cache.Policy
	fields map[*ast.FieldDefinition]fieldPolicy
	byName map[string]fieldPolicy
}

type fieldPolicy struct {
	coordinate string
	policy     cache.Policy
}

// NewPolicies reads the policies of the fields of schema's Query type.
func NewPolicies(schema *ast.Schema, def cache.Policy) (*Policies, error) {
	p := &Policies{
		def:    def,
		fields: map[*ast.FieldDefinition]fieldPolicy{},
		byName: map[string]fieldPolicy{},
	}
	if schema.Query == nil {
		return p, nil
	}
	for _, f := range schema.Query.Fields {
		fp := fieldPolicy{coordinate: schema.Query.Name + "." + f.Name, policy: def}
		if d := f.Directives.ForName("cacheControl"); d != nil {
			if err := applyDirective(&fp.policy, d); err != nil {
				return nil, fmt.Errorf("%s: @cacheControl: %w", fp.coordinate, err)
			}
		}
		p.fields[f] = fp
		p.byName[fp.coordinate] = fp
	}
	return p, nil
}

func applyDirective(p *cache.Policy, d *ast.Directive) error {
	if a := d.Arguments.ForName("maxAge"); a != nil && a.Value.Kind != ast.NullValue {
		n, err := strconv.Atoi(a.Value.Raw)
		if err != nil || n < 0 {
			return fmt.Errorf("maxAge must be a whole number of seconds, got %s", a.Value.Raw)
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
			return fmt.Errorf("unknown scope %s", a.Value.Raw)
		}
	}
	return nil
}

// For returns the policy of the field at coordinate (such as "Query.data"),
// or the default for a field the schema does not have.
func (p *Policies) For(coordinate string) cache.Policy {
	if fp, ok := p.byName[coordinate]; ok {
		return fp.policy
	}
	return p.def
}

// Field returns the schema coordinate and the policy of the field def.
func (p *Policies) Field(def *ast.FieldDefinition) (coordinate string, policy cache.Policy) {
	fp := p.fields[def]
	return fp.coordinate, fp.policy
}
