// Command catalog is the fieldcache example: a gqlgen server over a fake
// catalog of 1,000 products, whose @cacheControl fields are cached field by
// field. Run it with
//
//	go run ./examples/catalog
//
// and open http://localhost:8081/ for the playground. The environment:
//
//	PORT            the port to listen on (default 8081)
//	REDIS_URL       cache in this Redis (redis://127.0.0.1:6379/0); unset: in process
//	ADMIN_TOKEN     turns on the invalidation API for this token; unset: off
//	ORIGIN_LATENCY  slows each origin call by this Go duration ("50ms"); default 0
//
// /metrics counts the origin's calls (catalog_origin_calls_total{field}),
// which is how a tester sees what the cache saved. docs/catalog.md says more.
package main

// gqlgen generate plus graph/cachefields.go, the registry fieldcache.New
// takes; run from this directory, where gqlgen.yml is.
//go:generate go run github.com/gqlcache/gqlcache/cmd/gqlgen-cache

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gqlcache/gqlcache/examples/catalog/origin"
	"github.com/gqlcache/gqlcache/examples/catalog/server"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("catalog stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, then lets the requests in flight
// finish, so that a deploy does not cut answers short.
func run(logger *slog.Logger) error {
	latency, err := origin.LatencyFromEnv()
	if err != nil {
		return err
	}
	h, cleanup, err := server.NewServer(server.ServerOptions{
		RedisURL:      os.Getenv("REDIS_URL"),
		AdminToken:    os.Getenv("ADMIN_TOKEN"),
		OriginLatency: latency,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	defer cleanup()

	port := os.Getenv("PORT")
	if port == "" {
		port = "8081"
	}
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("catalog listening", "addr", srv.Addr, "playground", "http://localhost:"+port+"/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
