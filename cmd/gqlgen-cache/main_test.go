package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunGeneratesWithThePlugin: the command is gqlgen generate plus
// cachefields.go, from a config found as gqlgen finds it or named by
// --config.
func TestRunGeneratesWithThePlugin(t *testing.T) {
	// Inside the module, so that the generated code's validation build
	// finds fieldcache; under testdata, so that ./... never sees it.
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "gen-")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ = filepath.Abs(dir)
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove(filepath.Dir(dir)) // testdata, if nothing else is there
	})
	files := map[string]string{
		"schema.graphqls": `directive @cacheControl(maxAge: Int) on FIELD_DEFINITION
type Query { product(id: ID!): Product @cacheControl(maxAge: 60) }
type Product { id: ID! name: String! }
`,
		"gqlgen.yml": `schema: [schema.graphqls]
exec: {filename: graph/generated.go, package: graph}
model: {filename: graph/model/models_gen.go, package: model}
skip_mod_tidy: true
directives:
  cacheControl: {skip_runtime: true}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// From a subdirectory: gqlgen generate looks upwards for gqlgen.yml.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "sub"))
	if err := run(""); err != nil {
		t.Fatalf("run: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "graph", "cachefields.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`fieldcache.Field[*model.Product](f, "Query.product")`,
		`fieldcache.Identity[model.Product](f, "Product", func(p *model.Product) any { return p.ID })`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("cachefields.go lacks %s:\n%s", want, src)
		}
	}

	if err := run(filepath.Join(dir, "missing.yml")); err == nil || !strings.Contains(err.Error(), "loading config") {
		t.Errorf("run(missing.yml) = %v, want a config error", err)
	}
}
