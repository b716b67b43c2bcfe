package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The documentation is held to the code, so that it cannot drift again:
// every variable the service reads, every error code it sends, every metric
// it exports and every route it serves must be named somewhere in README.md
// or docs/*.md, and every relative link there must lead somewhere.
//
// The names are read from the Go source with go/parser, not from a list
// kept here: a new variable, code, metric or route is found without
// touching this file. Where a name is written in a form this file cannot
// read, the test says so rather than skipping it.

// TestDocsCoverEverything fails naming each variable, error code, metric or
// route that no document mentions.
func TestDocsCoverEverything(t *testing.T) {
	src := parseModule(t)
	docs := readDocs(t)
	for _, kind := range []struct {
		what  string
		names []string
	}{
		{"configuration variable", src.envVars()},
		{"error code", src.errorCodes(t)},
		{"metric", src.metrics(t)},
		{"route", src.routes(t)},
	} {
		t.Logf("%d %ss", len(kind.names), kind.what)
		if len(kind.names) == 0 {
			t.Errorf("found no %s in the source: has the code moved? Teach docs_test.go where to look", kind.what)
		}
		for _, name := range kind.names {
			if !mentions(docs, name) {
				t.Errorf("%s %s is in the code but in no document: add it to README.md or docs/*.md", kind.what, name)
			}
		}
	}
}

// TestDocsLinks fails on a relative link, in the README, the benchmark
// reports or docs/, to a file that does not exist or to a heading that
// the file does not have.
func TestDocsLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, file := range docFiles(t, "BENCHMARKS.md", "RELIABILITY.md") {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p, anchor, _ := strings.Cut(target, "#")
			dest := file
			if p != "" {
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(p))
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links to %s, which does not exist", file, target)
				continue
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && !slices.Contains(anchors(t, dest), anchor) {
				t.Errorf("%s links to %s, but %s has no heading #%s", file, target, dest, anchor)
			}
		}
	}
}

// docFiles is README.md, docs/*.md and the extra files named.
func docFiles(t *testing.T, extra ...string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md (%v)", err)
	}
	return append(append([]string{"README.md"}, files...), extra...)
}

func readDocs(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, file := range docFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteByte('\n')
	}
	return all.String()
}

// mentions reports whether name appears in text as a whole word:
// CACHE_TTL inside NEAR_CACHE_TTL, or GET / inside GET /data, does not
// count.
func mentions(text, name string) bool {
	inName := func(r byte) bool {
		return r == '_' || r == '.' || r == '/' || r == '-' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !inName(text[start-1])) && (end == len(text) || !inName(text[end])) {
			return true
		}
		i = start + 1
	}
}

// anchors returns the anchors GitHub gives the headings of a Markdown file:
// lower case, punctuation dropped, spaces turned into hyphens.
func anchors(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fenced := false
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if fenced || !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		slug := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r > 127:
				return r
			}
			return -1
		}, strings.ToLower(strings.TrimSpace(text)))
		out = append(out, slug)
	}
	return out
}

// module is the module's non-test Go files, by directory relative to its
// root ("." for package main).
type module struct {
	path  string // the module path, from go.mod
	files map[string][]*ast.File
}

func parseModule(t *testing.T) *module {
	t.Helper()
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := &module{files: map[string][]*ast.File{}}
	m.path, _, _ = strings.Cut(strings.TrimPrefix(string(gomod), "module "), "\n")
	fset := token.NewFileSet()
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		m.files[dir] = append(m.files[dir], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// envVars are the environment variables the code reads: the first argument
// of getenv, os.Getenv, os.LookupEnv and the methods of envParser
// (p.str("ADDR", ...)), wherever it is a string constant.
func (m *module) envVars() []string {
	readers := map[string]bool{"getenv": true, "Getenv": true, "LookupEnv": true}
	methods := map[string]bool{} // envParser's methods, in package main only
	for _, f := range m.files["."] {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && strings.Contains(recvText(fn.Recv), "envParser") {
				methods[fn.Name.Name] = true
			}
		}
	}
	var names []string
	m.eachCall(func(dir string, f *ast.File, call *ast.CallExpr) {
		name := funcName(call)
		if len(call.Args) == 0 || !readers[name] && !(dir == "." && methods[name]) {
			return
		}
		// A parameter passed on (p.getenv(name)) is read where the method
		// is called, with a constant.
		vs, _ := m.str(dir, f, call.Args[0])
		for _, v := range vs {
			if envName.MatchString(v) {
				names = append(names, v)
			}
		}
	})
	return unique(names)
}

// errorCodes are the values of internal/httpapi's Code constants.
func (m *module) errorCodes(t *testing.T) []string {
	var codes []string
	for _, f := range m.files["internal/httpapi"] {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if strings.HasPrefix(n.Name, "Code") && i < len(vs.Values) {
						v, ok := m.str("internal/httpapi", f, vs.Values[i])
						if !ok {
							t.Errorf("cannot read the value of httpapi.%s: teach docs_test.go its form", n.Name)
						}
						codes = append(codes, v...)
					}
				}
			}
		}
	}
	return unique(codes)
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

const prometheusPath = "github.com/prometheus/client_golang/prometheus"

var metricName = regexp.MustCompile(`^gqlcache_[a-z0-9_]+$`)

// metrics are the names of the Prometheus metrics the code defines: each
// prometheus.*Opts literal's Namespace, Subsystem and Name joined, each
// prometheus.BuildFQName, and every "gqlcache_..." string (a hand-built
// descriptor's name).
func (m *module) metrics(t *testing.T) []string {
	var names []string
	for dir, files := range m.files {
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && metricName.MatchString(s) {
						names = append(names, s)
					}
				case *ast.CallExpr: // prometheus.BuildFQName(namespace, subsystem, name)
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || importPath(f, sel.X) != prometheusPath || sel.Sel.Name != "BuildFQName" || len(n.Args) != 3 {
						return true
					}
					var parts []string
					for _, a := range n.Args {
						v, ok := m.str(dir, f, a)
						if !ok || len(v) != 1 {
							t.Errorf("%s: cannot read a metric name's part: teach docs_test.go its form", dir)
							return true
						}
						parts = append(parts, v[0])
					}
					names = append(names, joinName(parts))
				case *ast.CompositeLit:
					sel, ok := n.Type.(*ast.SelectorExpr)
					if !ok || importPath(f, sel.X) != prometheusPath || !strings.HasSuffix(sel.Sel.Name, "Opts") {
						return true
					}
					parts := map[string][]string{"Namespace": {""}, "Subsystem": {""}}
					for _, e := range n.Elts {
						kv, _ := e.(*ast.KeyValueExpr)
						if kv == nil {
							continue
						}
						key, _ := kv.Key.(*ast.Ident)
						if key == nil || (key.Name != "Name" && key.Name != "Namespace" && key.Name != "Subsystem") {
							continue
						}
						v, ok := m.str(dir, f, kv.Value)
						if !ok {
							t.Errorf("%s: cannot read a metric's %s: teach docs_test.go its form", dir, key.Name)
						}
						parts[key.Name] = v
					}
					for _, ns := range parts["Namespace"] {
						for _, sub := range parts["Subsystem"] {
							for _, name := range parts["Name"] {
								names = append(names, joinName([]string{ns, sub, name}))
							}
						}
					}
				}
				return true
			})
		}
	}
	return unique(names)
}

// joinName joins a metric's namespace, subsystem and name as Prometheus
// does: with underscores, leaving out the empty ones.
func joinName(parts []string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "_")
}

// routes are the patterns package main registers with a method
// (mux.Handle("GET /data", ...)), "{$}" dropped. A pattern without a
// method is a catch-all that refuses (404, 405): its codes are checked
// as error codes.
func (m *module) routes(t *testing.T) []string {
	var routes []string
	m.eachCall(func(dir string, f *ast.File, call *ast.CallExpr) {
		if dir != "." || (funcName(call) != "Handle" && funcName(call) != "HandleFunc") || len(call.Args) != 2 {
			return
		}
		patterns, ok := m.str(dir, f, call.Args[0])
		if !ok {
			t.Errorf("cannot read the pattern of a route of package %s: teach docs_test.go its form", f.Name.Name)
		}
		for _, p := range patterns {
			if method, _, ok := strings.Cut(p, " "); ok && method == strings.ToUpper(method) {
				routes = append(routes, strings.ReplaceAll(p, "{$}", ""))
			}
		}
	})
	return unique(routes)
}

func (m *module) eachCall(fn func(dir string, f *ast.File, call *ast.CallExpr)) {
	for dir, files := range m.files {
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					fn(dir, f, call)
				}
				return true
			})
		}
	}
}

// str returns the string values e can have when it is a literal, a
// constant (of its function, its package or another package of the
// module), a concatenation of those, or a parameter of a function (a
// helper such as counter("cache_hits_total", ...)) whose every call in the
// file passes one of those. ok is false for anything else.
func (m *module) str(dir string, f *ast.File, e ast.Expr) (values []string, ok bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return []string{s}, err == nil && e.Kind == token.STRING
	case *ast.BinaryExpr:
		l, lok := m.str(dir, f, e.X)
		r, rok := m.str(dir, f, e.Y)
		if e.Op != token.ADD || !lok || !rok || len(l) != 1 || len(r) != 1 {
			return nil, false
		}
		return []string{l[0] + r[0]}, true
	case *ast.SelectorExpr:
		p := importPath(f, e.X)
		if !strings.HasPrefix(p, m.path+"/") {
			return nil, false
		}
		return m.constant(strings.TrimPrefix(p, m.path+"/"), e.Sel.Name, nil)
	case *ast.Ident:
		if v, ok := m.constant(dir, e.Name, e); ok {
			return v, true
		}
		return m.argument(dir, f, e)
	}
	return nil, false
}

// constant looks name up among the constants of the package in dir; with
// use, only among those of use's file whose scope (the package, or the
// function that declares them) contains it.
func (m *module) constant(dir, name string, use ast.Node) (values []string, ok bool) {
	for _, f := range m.files[dir] {
		ast.Inspect(f, func(n ast.Node) bool {
			if fn, isFunc := n.(*ast.FuncDecl); isFunc && use != nil && !(fn.Pos() <= use.Pos() && use.End() <= fn.End()) {
				return false // a function's constants are its own
			}
			g, isDecl := n.(*ast.GenDecl)
			if ok || !isDecl || g.Tok != token.CONST {
				return !ok
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name == name && i < len(vs.Values) {
						values, ok = m.str(dir, f, vs.Values[i])
					}
				}
			}
			return false
		})
		if ok {
			return values, true
		}
	}
	return nil, false
}

// argument resolves a parameter of a named function, or of a function
// literal assigned to a name (counter := func(name, help string) ...), from
// that name's calls in f. ok is false unless every call passes a value str
// can read.
func (m *module) argument(dir string, f *ast.File, param *ast.Ident) (values []string, ok bool) {
	fname, index := "", -1
	var named *ast.FuncLit
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil || !(n.Pos() <= param.Pos() && param.End() <= n.End()) {
			return false // the parameter is not in here
		}
		var name string
		var ft *ast.FuncType
		switch n := n.(type) {
		case *ast.FuncDecl:
			name, ft = n.Name.Name, n.Type
		case *ast.AssignStmt:
			if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
				id, _ := n.Lhs[0].(*ast.Ident)
				lit, _ := n.Rhs[0].(*ast.FuncLit)
				if id != nil && lit != nil {
					name, ft, named = id.Name, lit.Type, lit
				}
			}
		case *ast.FuncLit:
			if n != named {
				ft = n.Type // an unnamed literal: its calls cannot be found
			}
		}
		if ft != nil {
			if i := paramIndex(ft, param.Name); i >= 0 {
				fname, index = name, i // descend on: an inner function's parameter shadows
			}
		}
		return true
	})
	if fname == "" {
		return nil, false
	}
	ok = true
	ast.Inspect(f, func(n ast.Node) bool {
		call, isCall := n.(*ast.CallExpr)
		if !isCall {
			return true
		}
		if id, isIdent := call.Fun.(*ast.Ident); isIdent && id.Name == fname && index < len(call.Args) {
			v, vok := m.str(dir, f, call.Args[index])
			values, ok = append(values, v...), ok && vok
		}
		return true
	})
	return values, ok && len(values) > 0
}

func paramIndex(ft *ast.FuncType, name string) int {
	i := 0
	for _, field := range ft.Params.List {
		for _, id := range field.Names {
			if id.Name == name {
				return i
			}
			i++
		}
	}
	return -1
}

// funcName is the called function's name: getenv, Getenv (os.Getenv), str
// (p.str).
func funcName(call *ast.CallExpr) string {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name
	case *ast.SelectorExpr:
		return fn.Sel.Name
	}
	return ""
}

// importPath is the path of the package x names in f, or "".
func importPath(f *ast.File, x ast.Expr) string {
	id, ok := x.(*ast.Ident)
	if !ok {
		return ""
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := path.Base(p) // the module's packages and prometheus are named so
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name == id.Name {
			return p
		}
	}
	return ""
}

// recvText is the identifiers of a receiver's type, enough to tell
// envParser's methods.
func recvText(fl *ast.FieldList) string {
	var b strings.Builder
	for _, f := range fl.List {
		ast.Inspect(f.Type, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				b.WriteString(id.Name)
			}
			return true
		})
	}
	return b.String()
}

func unique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
