// Package nodetest runs JavaScript tests and tools against the service with
// npm packages installed at test time: nothing third-party is committed,
// and each set of pinned packages is installed once per machine, into a
// cache directory outside the repository, so that later runs need no
// network.
package nodetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Install returns a directory whose node_modules holds packages (npm
// specs with exact versions, such as "graphql-http@1.23.1"), installing
// them when they are missing into $GQLCACHE_NODE_CACHE, else a directory
// under the user's cache directory, named after the packages. Without node
// and npm, or when npm's registry cannot be reached, the test fails saying
// which.
func Install(t testing.TB, packages ...string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (Debian's nodejs and npm packages: apt-get install -y nodejs npm)", tool)
		}
	}
	sorted := slices.Sorted(slices.Values(packages))
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	dir := filepath.Join(cacheRoot(t), hex.EncodeToString(sum[:8]))
	if complete(dir) {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// No retries and a short timeout: an unreachable registry is reported
	// in seconds, as what it is, instead of after a minute of retrying.
	args := append([]string{"install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline",
		"--fetch-retries=0", "--fetch-timeout=30000", "--loglevel=error"}, sorted...)
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm install %s failed: %v\n%s%s", strings.Join(sorted, " "), err, out, diagnose(string(out)))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The rename makes dir appear whole; a concurrent install that got
	// there first is as good.
	if err := os.Rename(tmp, dir); err != nil && !complete(dir) {
		t.Fatalf("installing into %s: %v", dir, err)
	}
	t.Logf("installed %s into %s", strings.Join(sorted, " "), dir)
	return dir
}

// unreachable are npm's words for a registry it could not reach.
var unreachable = regexp.MustCompile(`ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network request .* failed`)

func diagnose(out string) string {
	if unreachable.MatchString(out) {
		return "npm's registry could not be reached: these tests install their npm packages once per machine " +
			"(into $GQLCACHE_NODE_CACHE or ~/.cache/gqlcache-node); run them once with network access, " +
			"or point npm at a reachable registry (npm config set registry URL)"
	}
	return ""
}

func cacheRoot(t testing.TB) string {
	if dir := os.Getenv("GQLCACHE_NODE_CACHE"); dir != "" {
		return dir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for npm packages (%v): set GQLCACHE_NODE_CACHE", err)
	}
	return filepath.Join(dir, "gqlcache-node")
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return err == nil
}

// Workdir returns a fresh directory from which the packages of dir (from
// Install) can be imported: ES modules resolve packages from their own
// directory upwards, never NODE_PATH, so files written here find them.
func Workdir(t testing.TB, dir string) string {
	t.Helper()
	work := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return work
}

// Node runs node with args in work, with env added to the environment, and
// returns its standard output; a non-zero exit fails the test with both
// outputs.
func Node(t testing.TB, work string, env []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}
