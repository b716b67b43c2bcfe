// Command gqlgen-cache is gqlgen's generate with the cachegen plugin added:
// besides gqlgen's own code it writes cachefields.go, the registry the
// fieldcache extension needs, into the exec package. Run it where you would
// run gqlgen generate:
//
//	go run github.com/gqlcache/gqlcache/cmd/gqlgen-cache [--config gqlgen.yml]
//
// Without --config it finds gqlgen.yml (or .gqlgen.yml, gqlgen.yaml) in the
// working directory or above, as gqlgen does.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"

	"github.com/gqlcache/gqlcache/fieldcache/cachegen"
)

func main() {
	configFile := flag.String("config", "", "the gqlgen config file (default: gqlgen.yml, found as gqlgen generate finds it)")
	flag.Parse()
	if err := run(*configFile); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen-cache:", err)
		os.Exit(1)
	}
}

// run loads the config as gqlgen generate does, so that a team switching
// commands changes nothing else.
func run(configFile string) error {
	var cfg *config.Config
	var err error
	if configFile != "" {
		cfg, err = config.LoadConfig(configFile)
	} else {
		cfg, err = config.LoadConfigFromDefaultLocations()
	}
	if err != nil {
		return fmt.Errorf("loading config: %w", err)
	}
	return api.Generate(cfg, api.AddPlugin(cachegen.New()))
}
