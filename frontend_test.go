package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gqlcache/gqlcache/internal/nodetest"
)

// The frontend client test's npm packages, pinned: urql's core client (a
// client frontends use in production, whose persisted exchange is the one
// GraphQL Code Generator documents for persisted documents), and TypeScript
// to type-check the test against the generated types.
var frontendPackages = []string{
	"@urql/core@6.0.3",
	"@urql/exchange-persisted@5.0.1",
	"graphql@16.11.0",
	"@graphql-typed-document-node/core@3.2.0",
	"typescript@5.9.3",
	"@types/node@20.19.43",
}

// TestFrontendClient type-checks client/webtest/urql.test.ts with tsc
// against GraphQL Code Generator's output, then runs it with node --test
// against two real services: one taking any operation, one taking only
// the trusted documents of client/web/persisted-documents.json.
func TestFrontendClient(t *testing.T) {
	work := nodetest.Workdir(t, nodetest.Install(t, frontendPackages...))
	for _, f := range []string{"client/webtest/urql.test.ts", "client/web/graphql.ts"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(work, "src", filepath.Base(filepath.Dir(f)), filepath.Base(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		"package.json": `{"private": true, "type": "module"}`,
		"tsconfig.json": `{
  "compilerOptions": {
    "strict": true, "noUnusedLocals": true, "noUnusedParameters": true,
    "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext",
    "types": ["node"], "rootDir": "src", "outDir": "out"
  },
  "include": ["src"]
}`,
	} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Node(t, work, nil, "node_modules/typescript/bin/tsc", "-p", ".")

	open := startService(t, redisEnv(t))
	trusted := startService(t, redisEnv(t, "PERSISTED_DOCUMENTS", manifest, "TRUSTED_DOCUMENTS_ONLY", "true", "MODE", "production"))
	out := nodetest.Node(t, work, []string{
		"GQLCACHE_URL=" + open.url + "/graphql",
		"GQLCACHE_TRUSTED_URL=" + trusted.url + "/graphql",
	}, "--test", "--test-reporter=spec", "out/webtest/urql.test.js")
	t.Logf("node --test:\n%s", out)
}
