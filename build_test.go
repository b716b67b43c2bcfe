package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildFrom(t *testing.T) {
	info := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		name              string
		info              *debug.BuildInfo
		ok                bool
		version, revision string
	}{
		{"release", info("v1.4.0", "vcs.revision", "abc123", "vcs.modified", "false"), true, "v1.4.0", "abc123"},
		{"checkout with changes", info("v0.0.0-20261202104713-abc123+dirty", "vcs.revision", "abc123", "vcs.modified", "true"),
			true, "v0.0.0-20261202104713-abc123+dirty", "abc123-modified"},
		{"no VCS stamp", info("(devel)"), true, "(devel)", "unknown"},
		{"no build info", nil, false, "(devel)", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildFrom(tc.info, tc.ok)
			if b.version != tc.version || b.revision != tc.revision || b.goVersion != runtime.Version() {
				t.Errorf("got %+v; want version %q, revision %q, Go %s", b, tc.version, tc.revision, runtime.Version())
			}
		})
	}
}

// TestBuildSaysWhatItIs: the same build in the -version flag, the metric
// and the start-up log line.
func TestBuildSaysWhatItIs(t *testing.T) {
	want := readBuild()

	var out bytes.Buffer
	if err := run(context.Background(), []string{"gqlcache", "-version"}, env(), &out, io.Discard); err != nil {
		t.Fatalf("-version: %v; want a clean exit", err)
	}
	if got := strings.TrimSpace(out.String()); got != want.String() || !strings.Contains(got, runtime.Version()) {
		t.Errorf("-version printed %q; want %q", got, want)
	}

	s := startService(t, nil)
	_, metrics := s.get("/metrics")
	line := `gqlcache_build_info{goversion="` + runtime.Version() + `",revision="` + want.revision + `",version="` + want.version + `"} 1`
	if !strings.Contains(metrics, line+"\n") {
		t.Errorf("/metrics has no line %s", line)
	}

	for line := range strings.Lines(s.logs.String()) {
		var rec struct{ Msg, Version, Revision string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			if rec.Version != want.version || rec.Revision != want.revision {
				t.Errorf("listening line: version %q, revision %q; want %q, %q", rec.Version, rec.Revision, want.version, want.revision)
			}
			return
		}
	}
	t.Errorf("no listening line in the log:\n%s", s.logs)
}

// TestBinaryNamesItsCommit builds the service as an operator would and asks
// it which commit it is. Go stamps the revision only into a build from a
// clone (a .git folder; not a worktree's .git file).
func TestBinaryNamesItsCommit(t *testing.T) {
	if fi, err := os.Stat(".git"); err != nil || !fi.IsDir() {
		t.Skip("not a git clone's root: Go stamps no revision here")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gqlcache")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		t.Fatalf("%s -version: %v", bin, err)
	}
	if rev := strings.TrimSpace(string(head)); !strings.Contains(string(out), "revision "+rev) {
		t.Errorf("-version printed %q; want revision %s", out, rev)
	}
}
