// Command gqlcache serves data(query) over GraphQL and a REST shim from a
// Redis cache (or an in-process one) in front of an expensive origin, with
// honest freshness metadata on every answer.
package main

//go:generate go run ./cmd/gqlgen-cache

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/results"
	"github.com/gqlcache/gqlcache/resolvers"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "gqlcache: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole service: configuration, wiring, serving and graceful
// shutdown. It returns when ctx ends or a signal arrives (after shutting
// down) or when the server cannot serve.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			// The first signal starts the drain. The next one gets its
			// default action back, before the drain begins, and ends the
			// process at once, for an operator who cannot wait.
			signal.Stop(sigs)
			stop()
		case <-ctx.Done():
		}
	}()

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nEach flag overrides the environment variable it names; see docs/configuration.md.\n", args[0])
		fs.PrintDefaults()
	}
	version := fs.Bool("version", false, "print the build's version and exit")
	getenv, err := withFlags(fs, args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: configuration is by flags or environment variables", fs.Args())
	}
	if *version {
		_, err := fmt.Fprintln(stdout, readBuild())
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	fit := fitMemory(&cfg, getenv, memlimit.FromCgroup)
	logger := newLogger(cfg, stdout)
	fit.apply(cfg, logger)
	redis.SetLogger(redisLog{logger})
	return serve(ctx, cfg, newOrigin(cfg), logger)
}

// newOrigin is the HTTP upstream ORIGIN_URL names, else the built-in
// generator.
func newOrigin(cfg config) origin.Origin {
	if cfg.originURL == "" {
		return origin.Generator{Delay: cfg.originDelay}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Misses come in bursts of different keys; keep connections for them.
	t.MaxIdleConnsPerHost = 64
	return &origin.HTTP{URL: cfg.originURL, Client: &http.Client{Transport: t}}
}

// serve wires the service around org and serves until ctx ends, then
// drains for cfg.shutdownDelay and shuts down within cfg.shutdownTimeout.
func serve(ctx context.Context, cfg config, org origin.Origin, logger *slog.Logger) error {
	var tp trace.TracerProvider
	if cfg.tracing {
		sdk, err := newTracerProvider(ctx)
		if err != nil {
			return err
		}
		defer func() {
			// Flush the last spans on the way out, within the shutdown budget.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
			defer cancel()
			_ = sdk.Shutdown(sctx)
		}()
		tp = sdk
		logger.Info("tracing to OTLP/HTTP, as the OTEL_* variables configure")
	}
	a, err := newApp(ctx, cfg, org, logger, tp)
	if err != nil {
		return err
	}
	defer a.close()
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		// A miss may wait out another process's lease and then the origin.
		WriteTimeout:   2*cfg.originTimeout + 5*time.Second,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: cfg.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("listening", "addr", ln.Addr().String(), "version", a.build.version, "revision", a.build.revision,
		"store", a.cache.Describe(),
		"ttl", cfg.ttl.String(), "stale", cfg.stale.String(), "prefix", cfg.prefix)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.drain.begin()
	logger.Info("draining: /readyz fails and answers close their connections; a second signal stops at once",
		"delay", cfg.shutdownDelay.String())
	select {
	case <-time.After(cfg.shutdownDelay):
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	// Within the same budget, past it at once: what is left in flight ends,
	// or gives its lease back rather than leave other replicas waiting on it.
	if cerr := a.cache.Shutdown(sctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// app is the wired service: its HTTP surface and what to close after it.
type app struct {
	handler http.Handler
	cache   *cache.Cache
	drain   *drain
	build   build
	close   func()
}

// newApp wires the store, the cache, the schema's policies and the HTTP
// surface around org. A nil tp means no tracing, at no cost.
func newApp(ctx context.Context, cfg config, org origin.Origin, logger *slog.Logger, tp trace.TracerProvider) (*app, error) {
	reg := prometheus.NewRegistry()
	b := readBuild()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), b.collector())

	store, closeStore, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if rs, ok := store.(*cache.RedisStore); ok && tp != nil {
		if err := rs.InstrumentTracing(tp); err != nil {
			closeStore()
			return nil, err
		}
	}
	c, err := cache.New(store, cache.Options{
		Prefix:        cfg.prefix,
		Stale:         cfg.stale,
		OriginTimeout: cfg.originTimeout,
		StoreBudget:   cfg.redisTimeout,
		SlowCall:      cfg.redisSlowCall,
		Registerer:    reg,
		MaxEntryBytes: cfg.maxEntryBytes,
		NearTTL:       cfg.nearTTL,
		NearBytes:     int64(cfg.nearBytes),
		Logger:        logger,
		Now:           cfg.now,

		NegativeTTL:           cfg.negativeTTL,
		OriginMaxInflight:     cfg.originMaxInflight,
		OriginQueueWait:       cfg.originQueueTimeout,
		OriginBreakerFailures: uint32(cfg.originBreakerFails),
		OriginBreakerCooldown: cfg.originBreakerCool,
	})
	if err != nil {
		closeStore()
		return nil, err
	}
	answers := results.New(reg, resolvers.DataField)
	fields, err := resolvers.NewExtension(c, resolvers.ExtensionOptions{
		Default:    cache.Policy{TTL: cfg.ttl, Scope: cfg.scope},
		AdminToken: cfg.adminToken,
		Results:    answers,
		Registerer: reg,
		Logger:     logger,
	})
	if err != nil {
		c.Close()
		closeStore()
		return nil, fmt.Errorf("schema: %w", err)
	}
	d := &drain{}
	h := newServer(deps{cfg: cfg, cache: c, origin: org, fields: fields, answers: answers, registry: reg, logger: logger, tracer: tp, drain: d})
	// The cache's background refreshes end before the store closes.
	return &app{handler: h, cache: c, drain: d, build: b, close: func() { c.Close(); closeStore() }}, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redisLog sends go-redis's own messages (refused dials, pool events) to the
// service log at debug level: the cache already counts store errors and logs
// outages once, when its breaker opens.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// openStore returns Redis when REDIS_URL is set and the embedded memory
// store otherwise. An unreachable Redis does not stop the start: the cache
// fails open and serves from the origin until Redis answers.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (cache.Store, func(), error) {
	if cfg.redisURL == "" {
		s, err := cache.NewMemoryStore(int64(cfg.memoryBytes))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	}
	s, err := cache.OpenRedis(cfg.redisURL, cfg.redisTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if err := s.Ping(ctx); err != nil {
		logger.Warn("redis unreachable at start; serving from the origin until it answers", "store", s.Describe(), "err", err)
	}
	return s, func() { _ = s.Close() }, nil
}
