package gqlhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// operationLimits refuses a validated operation that is too deep, too wide
// or carries oversized arguments, before it executes. It walks the operation
// the way the executor will, through gqlgen's CollectFields, so fragments,
// @skip/@include and merged fields count exactly as they will run, and a
// fragment spread twice is walked once per selection set.
type operationLimits struct {
	lim           Limits
	introspection bool
	schema        *ast.Schema
}

var (
	_ graphql.HandlerExtension        = (*operationLimits)(nil)
	_ graphql.OperationContextMutator = (*operationLimits)(nil)
)

func (*operationLimits) ExtensionName() string { return "OperationLimits" }

func (l *operationLimits) Validate(es graphql.ExecutableSchema) error {
	l.schema = es.Schema()
	return nil
}

func (l *operationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	root := l.schema.Query
	switch oc.Operation.Operation {
	case ast.Mutation:
		root = l.schema.Mutation
	case ast.Subscription:
		root = l.schema.Subscription
	}
	if root == nil {
		return nil // validation has already refused an operation type the schema lacks
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, l.satisfies(root.Name))
	if len(fields) > l.lim.MaxRootFields {
		return limitError(httpapi.CodeRootFieldLimit, "the operation selects %d top-level fields; the limit is %d", len(fields), l.lim.MaxRootFields)
	}
	w := walk{l: l, oc: oc}
	return w.fields(fields, 1)
}

type walk struct {
	l       *operationLimits
	oc      *graphql.OperationContext
	aliases int
}

func (w *walk) fields(fields []graphql.CollectedField, depth int) *gqlerror.Error {
	lim := w.l.lim
	if depth > lim.MaxDepth {
		return limitError(httpapi.CodeDepthLimit, "the operation nests selections more than %d deep", lim.MaxDepth)
	}
	for _, f := range fields {
		if f.Alias != f.Name {
			if w.aliases++; w.aliases > lim.MaxAliases {
				return limitError(httpapi.CodeAliasLimit, "the operation uses more than %d aliases", lim.MaxAliases)
			}
		}
		if !w.l.introspection && (f.Name == "__schema" || f.Name == "__type") {
			return limitError(httpapi.CodeIntrospectionOff, "introspection is disabled on this server")
		}
		for _, arg := range f.Arguments {
			v, err := arg.Value.Value(w.oc.Variables)
			if err != nil || f.Definition == nil {
				continue // validation has checked the variables; execution reports the rest
			}
			def := f.Definition.Arguments.ForName(arg.Name)
			if def == nil {
				continue
			}
			if err := w.checkValue(f.Name+"."+arg.Name, v, def.Type); err != nil {
				return err
			}
		}
		if len(f.Selections) > 0 && f.Definition != nil {
			children := graphql.CollectFields(w.oc, f.Selections, w.l.satisfies(f.Definition.Type.Name()))
			if err := w.fields(children, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkValue holds an argument's value (at any depth of lists and input
// objects) to the spec's input coercion, which gqlgen relaxes (it turns the
// number 5 into the String "5"), and refuses strings that are too long or
// carry control characters, which no query to the origin means and which
// logs and keys should never hold.
func (w *walk) checkValue(name string, v any, typ *ast.Type) *gqlerror.Error {
	if v == nil {
		return nil // nullability is validation's business
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return w.checkValue(name, v, typ.Elem) // a single value coerces to a list of one
		}
		for _, x := range list {
			if err := w.checkValue(name, x, typ.Elem); err != nil {
				return err
			}
		}
		return nil
	}
	switch typ.NamedType {
	case "String", "ID":
		s, ok := v.(string)
		if !ok {
			if typ.NamedType == "ID" && isInteger(v) {
				return nil
			}
			return limitError(httpapi.CodeBadUserInput, "argument %s must be a %s", name, typ.NamedType)
		}
		if len(s) > w.l.lim.MaxArgumentBytes {
			return limitError(httpapi.CodeBadUserInput, "argument %s is longer than %d bytes", name, w.l.lim.MaxArgumentBytes)
		}
		if strings.ContainsFunc(s, isControl) {
			return limitError(httpapi.CodeBadUserInput, "argument %s contains control characters", name)
		}
	case "Int":
		if !isInteger(v) {
			return limitError(httpapi.CodeBadUserInput, "argument %s must be an Int", name)
		}
	case "Float":
		if _, ok := v.(string); ok {
			return limitError(httpapi.CodeBadUserInput, "argument %s must be a Float", name)
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return limitError(httpapi.CodeBadUserInput, "argument %s must be a Boolean", name)
		}
	default:
		def := w.l.schema.Types[typ.NamedType]
		obj, ok := v.(map[string]any)
		if def == nil || def.Kind != ast.InputObject || !ok {
			return nil
		}
		for k, x := range obj {
			if fd := def.Fields.ForName(k); fd != nil {
				if err := w.checkValue(name+"."+k, x, fd.Type); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isInteger(v any) bool {
	switch v := v.(type) {
	case int, int32, int64:
		return true
	case json.Number:
		_, err := v.Int64()
		return err == nil
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// satisfies lists the type names a fragment's type condition may name for
// a selection on typeName: the type itself, its interfaces, or for an
// abstract type every type that may stand in for it.
func (l *operationLimits) satisfies(typeName string) []string {
	def := l.schema.Types[typeName]
	if def == nil {
		return []string{typeName}
	}
	names := []string{typeName}
	if def.IsAbstractType() {
		for _, p := range l.schema.GetPossibleTypes(def) {
			names = append(names, p.Name)
		}
		return names
	}
	return append(names, def.Interfaces...)
}

func limitError(code, format string, args ...any) *gqlerror.Error {
	return httpapi.GraphQLError(code, fmt.Sprintf(format, args...))
}
