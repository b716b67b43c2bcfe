// Package plan answers the service's common GraphQL operations without
// gqlgen's executor: one or more data(query:) fields selecting
// DataPayload's scalars. For those, gqlgen's general machinery (field
// contexts, field sets, per-field marshalers) costs about three times what
// the whole rest of a cache hit does. A plan resolves the same cache
// queries the resolvers would and writes the same bytes gqlgen would (a
// differential test holds the two to that); anything else, including
// @defer and directives it does not know, is left to gqlgen.
//
// The GraphQL transport takes plans through its own interface
// (gqlhttp.Compiler), so it never calls up into the resolvers.
package plan

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/gqlscalar"
	"github.com/gqlcache/gqlcache/internal/httpapi"
	"github.com/gqlcache/gqlcache/resolvers"
)

// Compiler makes plans over the resolvers' dependencies.
type Compiler struct{ d resolvers.Deps }

var _ gqlhttp.Compiler = (*Compiler)(nil)

// New returns a compiler whose plans use d as the resolvers do.
func New(d resolvers.Deps) *Compiler { return &Compiler{d: d} }

// Compile returns a plan that answers oc without gqlgen's executor, or nil.
func (r *Compiler) Compile(oc *graphql.OperationContext) gqlhttp.Plan {
	if oc.Operation.Operation != ast.Query {
		return nil
	}
	roots := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	if len(roots) == 0 {
		return nil
	}
	p := &plan{r: r, fields: make([]plannedField, 0, len(roots))}
	for _, f := range roots {
		pf, ok := r.compileField(oc, f)
		if !ok {
			return nil
		}
		p.fields = append(p.fields, pf)
	}
	return p
}

type plan struct {
	r      *Compiler
	fields []plannedField
}

type plannedField struct {
	typename bool   // __typename, not data
	key      []byte // the response key (alias), JSON-quoted
	alias    string
	query    cache.Query
	arg      string
	output   []scalarField
}

type scalarField struct {
	key  []byte // JSON-quoted response key followed by ':'
	name string
}

var payloadFields = map[string]bool{
	"__typename": true, "source": true, "data": true, "cachedAt": true, "expiresInSeconds": true, "stale": true, "tags": true,
}

func (r *Compiler) compileField(oc *graphql.OperationContext, f graphql.CollectedField) (plannedField, bool) {
	if f.Name == "__typename" && plainField(f) {
		return plannedField{typename: true, key: quote(f.Alias)}, true
	}
	if f.Name != "data" || f.Definition == nil || !plainField(f) {
		return plannedField{}, false
	}
	q, ok := f.ArgumentMap(oc.Variables)["query"].(string)
	if !ok {
		return plannedField{}, false
	}
	cq, err := r.d.DataQuery(q)
	if err != nil {
		return plannedField{}, false
	}
	pf := plannedField{key: quote(f.Alias), alias: f.Alias, arg: q, query: cq}
	for _, s := range graphql.CollectFields(oc, f.Selections, []string{"DataPayload"}) {
		if !payloadFields[s.Name] || !plainField(s) || len(s.Selections) > 0 || len(s.Arguments) > 0 {
			return plannedField{}, false
		}
		pf.output = append(pf.output, scalarField{key: append(quote(s.Alias), ':'), name: s.Name})
	}
	return pf, len(pf.output) > 0
}

// plainField reports whether a collected field carries nothing a plan does
// not reproduce: no deferral and no directive beyond @skip and @include,
// which CollectFields has already applied.
func plainField(f graphql.CollectedField) bool {
	if f.IsDeferred() {
		return false
	}
	for _, d := range f.Directives {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// Run implements gqlhttp.Plan. The answer may be kept by HTTP caches while
// every field in it is fresh and stored, and only by the caller's own cache
// when any field is private.
func (p *plan) Run(ctx context.Context, out []byte) ([]byte, httpapi.Freshness) {
	results := make([]cache.Result, len(p.fields))
	errs := make([]error, len(p.fields))
	get := func(i int) {
		f := &p.fields[i]
		if f.typename {
			return
		}
		results[i], errs[i] = p.r.d.Get(ctx, f.query, f.arg)
	}
	if len(p.fields) == 1 {
		get(0)
	} else {
		// Root fields resolve concurrently, as gqlgen resolves them.
		var wg sync.WaitGroup
		for i := range p.fields {
			wg.Go(func() { get(i) })
		}
		wg.Wait()
	}
	var list gqlerror.List
	for i, err := range errs {
		if err != nil {
			gerr := resolvers.PresentError(ctx, err)
			gerr.Path = ast.Path{ast.PathName(p.fields[i].alias)}
			list = append(list, gerr)
		}
	}
	if len(list) > 0 {
		// data is non-null, so one failed field nulls the whole response.
		b, _ := json.Marshal(&graphql.Response{Errors: list})
		return append(append(out, b...), '\n'), httpapi.Freshness{}
	}
	var fresh httpapi.Collector
	for i, f := range p.fields {
		if !f.typename {
			fresh.Add(resolvers.Freshness(results[i], f.query.Policy))
		}
	}
	out = append(out, `{"data":{`...)
	for i, f := range p.fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, f.key...)
		if f.typename {
			out = append(out, `:"Query"`...)
			continue
		}
		out = append(out, ":{"...)
		for j, s := range f.output {
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, s.key...)
			out = appendScalar(out, s.name, results[i])
		}
		out = append(out, '}')
	}
	return append(out, "}}\n"...), fresh.Freshness()
}

func appendScalar(out []byte, name string, res cache.Result) []byte {
	switch name {
	case "__typename":
		return append(out, `"DataPayload"`...)
	case "source":
		if res.Source == cache.SourceOrigin {
			return append(out, `"DATABASE"`...)
		}
		return append(out, `"CACHE"`...)
	case "data":
		if len(res.Data) == 0 {
			return append(out, "null"...)
		}
		return append(out, res.Data...)
	case "cachedAt":
		out = append(out, '"')
		out = res.CachedAt.UTC().AppendFormat(out, gqlscalar.TimeLayout)
		return append(out, '"')
	case "expiresInSeconds":
		return strconv.AppendInt(out, int64(res.ExpiresIn()), 10)
	case "tags":
		// Straight from the stored list: tags are printable ASCII without
		// commas (ValidateTag), so only '"' and '\\' need escaping, and
		// '<', '>' and '&', which the response's encoder escapes too.
		out = append(out, '[')
		if res.TagList != "" {
			out = append(out, '"')
			for i := 0; i < len(res.TagList); i++ {
				switch c := res.TagList[i]; c {
				case ',':
					out = append(out, `","`...)
				case '"', '\\':
					out = append(out, '\\', c)
				case '<':
					out = append(out, `\u003c`...)
				case '>':
					out = append(out, `\u003e`...)
				case '&':
					out = append(out, `\u0026`...)
				default:
					out = append(out, c)
				}
			}
			out = append(out, '"')
		}
		return append(out, ']')
	default: // stale
		return strconv.AppendBool(out, res.Stale)
	}
}
