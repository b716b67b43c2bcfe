package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryImportsNothingInternal: another module can import the cache,
// the extension and its plugin, and the catalog example can be copied out
// of this module, only while none of them reaches a package under
// internal/, which Go refuses to other modules.
func TestLibraryImportsNothingInternal(t *testing.T) {
	for _, c := range []struct {
		what string
		args []string
	}{
		{"the library", []string{"list", "-deps", "./cache", "./fieldcache/...", "./cmd/gqlgen-cache"}},
		{"the catalog example and its tests", []string{"list", "-deps", "-test", "./examples/catalog/..."}},
	} {
		out, err := exec.Command("go", c.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
		for pkg := range strings.FieldsSeq(string(out)) {
			if strings.HasPrefix(pkg, "github.com/gqlcache/gqlcache/internal/") {
				t.Errorf("%s imports %s", c.what, pkg)
			}
		}
	}
}
