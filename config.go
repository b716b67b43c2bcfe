package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gqlcache/gqlcache/cache"
	"github.com/gqlcache/gqlcache/graph"
	"github.com/gqlcache/gqlcache/internal/gqlhttp"
	"github.com/gqlcache/gqlcache/internal/origin"
	"github.com/gqlcache/gqlcache/internal/playground"
	"github.com/gqlcache/gqlcache/internal/rest"
)

// config is everything the service reads from its environment. Each field's
// variable and default are in docs/configuration.md.
type config struct {
	addr                string
	redisURL            string
	redisTimeout        time.Duration
	redisSlowCall       time.Duration
	ttl                 time.Duration
	stale               time.Duration
	scope               cache.Scope
	prefix              string
	memoryBytes         int
	memoryLimit         uint64 // the cgroup's, as fitMemory found it; 0: none
	originURL           string
	originDelay         time.Duration
	originTimeout       time.Duration
	originMaxInflight   int
	originQueueTimeout  time.Duration
	originBreakerFails  int
	originBreakerCool   time.Duration
	negativeTTL         time.Duration
	clientRevalidation  revalidation
	adminToken          string
	maxQueryLen         int
	naiveCachedAt       bool
	production          bool
	plans               bool
	playgroundAssetsURL string
	playgroundAssetsDir string
	tracing             bool
	apqTTL              time.Duration
	corsOrigins         []string
	introspection       bool
	limits              gqlhttp.Limits
	documents           *gqlhttp.Documents
	trustedOnly         bool
	maxHeaderBytes      int
	maxURLBytes         int
	maxEntryBytes       int
	nearTTL             time.Duration
	nearBytes           int
	logLevel            slog.Level
	logJSON             bool
	shutdownDelay       time.Duration
	shutdownTimeout     time.Duration
	// now is the cache's clock, which no variable sets; nil: time.Now.
	now func() time.Time
}

// loadConfig reads and validates the environment. Every problem is reported
// at once, each naming its variable, so a bad deployment fails at start with
// a message that says what to fix.
func loadConfig(getenv func(string) string) (config, error) {
	p := envParser{getenv: getenv}
	limits := gqlhttp.DefaultLimits()
	c := config{
		addr:          p.str("ADDR", ":8080"),
		redisURL:      p.str("REDIS_URL", ""),
		redisTimeout:  p.duration("REDIS_TIMEOUT", cache.DefaultStoreBudget, true),
		ttl:           p.duration("CACHE_TTL", 5*time.Second, true),
		stale:         p.duration("CACHE_STALE", 0, false),
		prefix:        p.str("CACHE_KEY_PREFIX", cache.DefaultPrefix),
		memoryBytes:   p.positiveInt("CACHE_MEMORY_BYTES", 64<<20),
		originDelay:   p.duration("ORIGIN_DELAY", 0, false),
		originTimeout: p.duration("ORIGIN_TIMEOUT", cache.DefaultOriginTimeout, true),
		adminToken:    p.str("ADMIN_TOKEN", ""),
		maxQueryLen:   p.positiveInt("MAX_QUERY_LENGTH", rest.DefaultMaxQueryLen),
		limits: gqlhttp.Limits{
			MaxBodyBytes:  int64(p.positiveInt("MAX_BODY_BYTES", int(limits.MaxBodyBytes))),
			MaxTokens:     p.positiveInt("MAX_TOKENS", limits.MaxTokens),
			MaxDepth:      p.positiveInt("MAX_DEPTH", limits.MaxDepth),
			MaxAliases:    p.positiveInt("MAX_ALIASES", limits.MaxAliases),
			MaxRootFields: p.positiveInt("MAX_ROOT_FIELDS", limits.MaxRootFields),
			MaxComplexity: p.positiveInt("COMPLEXITY_LIMIT", limits.MaxComplexity),
		},
		maxHeaderBytes:  p.positiveInt("MAX_HEADER_BYTES", 16<<10),
		maxURLBytes:     p.positiveInt("MAX_URL_BYTES", 8<<10),
		maxEntryBytes:   p.positiveInt("MAX_ENTRY_BYTES", cache.DefaultMaxEntryBytes),
		nearTTL:         p.duration("NEAR_CACHE_TTL", time.Second, false),
		nearBytes:       p.positiveInt("NEAR_CACHE_BYTES", cache.DefaultNearBytes),
		shutdownTimeout: p.duration("SHUTDOWN_TIMEOUT", 10*time.Second, true),
		// Why this default: docs/operations.md, "Draining on SIGTERM".
		shutdownDelay: p.duration("SHUTDOWN_DELAY", 5*time.Second, false),

		// Why these defaults: docs/origins.md, "Origin protection".
		originMaxInflight:  p.positiveInt("ORIGIN_MAX_INFLIGHT", cache.DefaultOriginMaxInflight),
		originQueueTimeout: p.duration("ORIGIN_QUEUE_TIMEOUT", cache.DefaultOriginQueueWait, true),
		originBreakerFails: p.positiveInt("ORIGIN_BREAKER_FAILURES", int(cache.DefaultOriginBreakerFailures)),
		originBreakerCool:  p.duration("ORIGIN_BREAKER_COOLDOWN", cache.DefaultOriginBreakerCooldown, true),
		negativeTTL:        p.duration("NEGATIVE_TTL", cache.DefaultNegativeTTL, true),
	}
	if port := getenv("PORT"); port != "" && getenv("ADDR") == "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.fail("PORT", port, "a port number from 0 to 65535")
		} else {
			c.addr = ":" + port
		}
	}
	c.limits.MaxArgumentBytes = c.maxQueryLen
	c.redisSlowCall = p.duration("REDIS_SLOW_CALL", c.redisTimeout/2, true)
	if c.redisSlowCall >= c.redisTimeout && c.redisTimeout > 0 {
		p.fail("REDIS_SLOW_CALL", c.redisSlowCall.String(), "a duration below REDIS_TIMEOUT ("+c.redisTimeout.String()+")")
	}
	switch v := strings.ToLower(p.str("MODE", "development")); v {
	case "development":
	case "production":
		c.production = true
	default:
		p.fail("MODE", v, "development or production")
	}
	c.introspection = p.boolean("INTROSPECTION", !c.production)
	c.originURL = p.str("ORIGIN_URL", "")
	if c.originURL != "" {
		if err := origin.CheckURL(c.originURL); err != nil {
			p.errs = append(p.errs, fmt.Errorf("ORIGIN_URL: %w", err))
		}
	}
	c.playgroundAssetsURL = p.str("PLAYGROUND_ASSETS_URL", "")
	if v := c.playgroundAssetsURL; v != "" {
		if err := playground.CheckURL(v); err != nil {
			p.errs = append(p.errs, fmt.Errorf("PLAYGROUND_ASSETS_URL: %w", err))
		}
	}
	c.playgroundAssetsDir = p.str("PLAYGROUND_ASSETS_DIR", "")
	if v := c.playgroundAssetsDir; v != "" {
		if err := playground.CheckAssetsDir(v); err != nil {
			p.errs = append(p.errs, fmt.Errorf("PLAYGROUND_ASSETS_DIR: %w", err))
		}
	}
	if path := p.str("PERSISTED_DOCUMENTS", ""); path != "" {
		docs, err := gqlhttp.LoadDocuments(path, graph.NewExecutableSchema(graph.Config{}).Schema())
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("PERSISTED_DOCUMENTS: %w", err))
		}
		c.documents = docs
	}
	c.trustedOnly = p.boolean("TRUSTED_DOCUMENTS_ONLY", false)
	if c.trustedOnly && getenv("PERSISTED_DOCUMENTS") == "" {
		p.errs = append(p.errs, errors.New("TRUSTED_DOCUMENTS_ONLY: true needs PERSISTED_DOCUMENTS, the manifest of the trusted documents"))
	}
	c.plans = p.boolean("COMPILED_PLANS", true)
	c.tracing = tracingWanted(getenv)
	c.apqTTL = p.duration("APQ_TTL", 24*time.Hour, false)
	for o := range strings.SplitSeq(p.str("CORS_ORIGINS", ""), ",") {
		switch o = strings.TrimSpace(o); {
		case o == "":
		case o == "*":
			c.corsOrigins = append(c.corsOrigins, o)
		default:
			if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				p.fail("CORS_ORIGINS", o, "origins such as https://app.example.com, separated by commas, or *")
				continue
			}
			c.corsOrigins = append(c.corsOrigins, o)
		}
	}
	switch v := strings.ToLower(p.str("CLIENT_REVALIDATION", "admin")); v {
	case "never":
		c.clientRevalidation = revalidateNever
	case "admin":
		c.clientRevalidation = revalidateAdmin
	case "always":
		c.clientRevalidation = revalidateAlways
	default:
		p.fail("CLIENT_REVALIDATION", v, "never, admin or always")
	}
	switch v := strings.ToLower(p.str("REST_TIMESTAMPS", "aware")); v {
	case "aware":
	case "naive":
		c.naiveCachedAt = true
	default:
		p.fail("REST_TIMESTAMPS", v, "aware or naive")
	}
	switch v := strings.ToLower(p.str("CACHE_SCOPE", "public")); v {
	case "public":
		c.scope = cache.ScopePublic
	case "private":
		c.scope = cache.ScopePrivate
	default:
		p.fail("CACHE_SCOPE", v, "public or private")
	}
	if err := cache.ValidatePrefix(c.prefix); err != nil {
		p.errs = append(p.errs, fmt.Errorf("CACHE_KEY_PREFIX: %w", err))
	}
	if c.redisURL != "" {
		// The error lists the accepted forms and never repeats a password.
		if err := cache.ValidateRedisURL(c.redisURL); err != nil {
			p.errs = append(p.errs, fmt.Errorf("REDIS_URL: %w", err))
		}
	}
	if err := c.logLevel.UnmarshalText([]byte(p.str("LOG_LEVEL", "info"))); err != nil {
		p.fail("LOG_LEVEL", getenv("LOG_LEVEL"), "debug, info, warn or error")
	}
	switch v := strings.ToLower(p.str("LOG_FORMAT", "text")); v {
	case "text":
	case "json":
		c.logJSON = true
	default:
		p.fail("LOG_FORMAT", v, "text or json")
	}
	return c, errors.Join(p.errs...)
}

// withFlags parses args and returns getenv overridden by them: every
// variable loadConfig reads has a flag named after it in lower case with
// dashes (CACHE_TTL: -cache-ttl). The names come from a dry run of
// loadConfig, so the flags can never drift from the variables.
// OpenTelemetry's own variables stay variables, and so does ADMIN_TOKEN:
// a flag's value shows in every process listing.
func withFlags(fs *flag.FlagSet, args []string, getenv func(string) string) (func(string) string, error) {
	var names []string
	seen := map[string]bool{}
	_, _ = loadConfig(func(k string) string {
		if !seen[k] && !strings.HasPrefix(k, "OTEL_") && k != "ADMIN_TOKEN" {
			seen[k] = true
			names = append(names, k)
		}
		return getenv(k)
	})
	flags := map[string]*string{}
	for _, name := range names {
		flags[name] = fs.String(flagName(name), "", "overrides $"+name)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return func(k string) string {
		if v, ok := flags[k]; ok && given[flagName(k)] {
			return *v
		}
		return getenv(k)
	}, nil
}

func flagName(variable string) string {
	return strings.ToLower(strings.ReplaceAll(variable, "_", "-"))
}

type envParser struct {
	getenv func(string) string
	errs   []error
}

func (p *envParser) fail(name, value, want string) {
	p.errs = append(p.errs, fmt.Errorf("%s: invalid value %q: want %s", name, value, want))
}

func (p *envParser) str(name, def string) string {
	if v := p.getenv(name); v != "" {
		return v
	}
	return def
}

func (p *envParser) duration(name string, def time.Duration, positive bool) time.Duration {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.fail(name, v, "a duration such as 250ms, 5s or 1m")
	case positive && d <= 0:
		p.fail(name, v, "a duration above zero")
	case d < 0:
		p.fail(name, v, "a duration of zero or more")
	}
	return d
}

func (p *envParser) boolean(name string, def bool) bool {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, v, "true or false")
	}
	return b
}

func (p *envParser) positiveInt(name string, def int) int {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		p.fail(name, v, "a whole number above zero")
	}
	return n
}
