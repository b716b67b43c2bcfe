package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// build is what the binary says it is, read from what the Go toolchain
// stamped into it, so that no version string is kept by hand and none can
// go stale.
type build struct {
	// version is the module's: a release tag when built from one, a
	// pseudo-version from a checkout (ending +dirty with uncommitted
	// changes), "(devel)" when the toolchain could not tell.
	version string
	// revision is the commit built, "-modified" added when the tree had
	// uncommitted changes; "unknown" outside a checkout (go test, go run
	// of a downloaded module).
	revision  string
	goVersion string
}

func readBuild() build { return buildFrom(debug.ReadBuildInfo()) }

func buildFrom(info *debug.BuildInfo, ok bool) build {
	b := build{version: "(devel)", revision: "unknown", goVersion: runtime.Version()}
	if !ok {
		return b
	}
	if info.Main.Version != "" {
		b.version = info.Main.Version
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && b.revision != "unknown" {
		b.revision += "-modified"
	}
	return b
}

func (b build) String() string {
	return fmt.Sprintf("gqlcache %s (revision %s, %s)", b.version, b.revision, b.goVersion)
}

// collector is the gqlcache_build_info gauge: always 1, its labels the
// build, so that dashboards can join any series to the build serving it.
func (b build) collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   "gqlcache",
		Name:        "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": b.version, "revision": b.revision, "goversion": b.goVersion},
	})
	g.Set(1)
	return g
}
