package gqlhttp

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
		return limitError(CodeRootFieldLimit, "the operation selects %d top-level fields; the limit is %d", len(fields), l.lim.MaxRootFields)
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
		return limitError(CodeDepthLimit, "the operation nests selections more than %d deep", lim.MaxDepth)
	}
	for _, f := range fields {
		if f.Alias != f.Name {
			if w.aliases++; w.aliases > lim.MaxAliases {
				return limitError(CodeAliasLimit, "the operation uses more than %d aliases", lim.MaxAliases)
			}
		}
		if !w.l.introspection && (f.Name == "__schema" || f.Name == "__type") {
			return limitError(CodeIntrospectionOff, "introspection is disabled on this server")
		}
		for _, arg := range f.Arguments {
			v, err := arg.Value.Value(w.oc.Variables)
			if err != nil {
				continue // validation has checked the variables; execution reports the rest
			}
			if err := w.checkValue(f.Name+"."+arg.Name, v); err != nil {
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

// checkValue refuses string arguments (at any depth of lists and input
// objects) that are too long or carry control characters, which no query
// to the origin means and which logs and keys should never hold.
func (w *walk) checkValue(name string, v any) *gqlerror.Error {
	switch v := v.(type) {
	case string:
		if len(v) > w.l.lim.MaxArgumentBytes {
			return limitError(CodeBadUserInput, "argument %s is longer than %d bytes", name, w.l.lim.MaxArgumentBytes)
		}
		if strings.ContainsFunc(v, isControl) {
			return limitError(CodeBadUserInput, "argument %s contains control characters", name)
		}
	case []any:
		for _, x := range v {
			if err := w.checkValue(name, x); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, x := range v {
			if err := w.checkValue(name+"."+k, x); err != nil {
				return err
			}
		}
	}
	return nil
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
	return coded(code, fmt.Sprintf(format, args...))
}
