package fieldcache

import (
	"context"
	"reflect"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/cache"
)

// prefetch reads together the entries of the cached fields that the
// operation selects on the items of list v, so that each item's field then
// finds its entry in the operation's batch: one store round trip for the
// whole list level instead of one per item.
func (e *Extension) prefetch(ctx context.Context, fc *graphql.FieldContext, p *plan, op *operation, v any) {
	list := reflect.ValueOf(v)
	if list.Kind() != reflect.Slice || list.Len() == 0 {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	var qs []cache.Query
	for _, cf := range graphql.CollectFields(oc, fc.Field.Selections, []string{p.elem}) {
		var f *cachedField
		for _, c := range p.children {
			if c.def == cf.Definition {
				f = c
			}
		}
		if f == nil {
			continue
		}
		args, ok := childArgs(ctx, oc, fc, f, cf)
		if !ok {
			continue
		}
		if qs == nil {
			qs = make([]cache.Query, 0, list.Len())
		}
		for i := range list.Len() {
			// gqlgen hands each item's fields a pointer to the list's
			// element as their parent; the key reads it the same way.
			q, err := f.queryFor(args, list.Index(i).Addr().Interface())
			if err == nil {
				qs = append(qs, q)
			}
		}
	}
	if len(qs) > 0 {
		e.c.Prefetch(ctx, op.batch, qs)
	}
}

// childArgs are the arguments the cached field cf will be resolved with,
// as its own query will read them.
func childArgs(ctx context.Context, oc *graphql.OperationContext, fc *graphql.FieldContext, f *cachedField, cf graphql.CollectedField) (map[string]any, bool) {
	if f.rawArgs {
		return cf.ArgumentMap(oc.Variables), true
	}
	if len(f.def.Arguments) == 0 {
		return nil, true
	}
	if fc.Child == nil {
		return nil, false
	}
	child, err := fc.Child(ctx, cf)
	if err != nil {
		return nil, false
	}
	return child.Args, true
}
