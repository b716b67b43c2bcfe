# The README's two commands are `go run .` and `make test`; the other
# targets are what CI runs besides.
.PHONY: run test check generate fuzz load stall rolling prometheus

run:
	go run .

# Tests talk to a real Redis: REDIS_URL, else 127.0.0.1:6379, else a
# redis-server they start themselves, which must then be installed.
# -race needs a C compiler (cgo). The playground's browser tests need
# Chromium; they, the GraphQL-over-HTTP audit and the frontend client test
# need node and npm, and npm's registry once per machine (no third-party
# package is committed). The original service's caller is a python3 script
# run in a time zone that tzdata holds.
test: prometheus
	@command -v cc >/dev/null 2>&1 || { \
		echo "no C compiler (cc), which go test -race needs; installing Debian's gcc package"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "redis-server not found; installing Debian's redis-server package"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
		echo "chromium not found; installing Debian's chromium package (the playground's browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
		echo "npm not found; installing Debian's npm package (node and npm, for the tests' npm packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@{ command -v python3 >/dev/null 2>&1 && test -e /usr/share/zoneinfo/Asia/Kolkata; } || { \
		echo "python3 or tzdata not found; installing Debian's python3 and tzdata packages (the original service's caller, in a zone off UTC)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 tzdata >/dev/null; }
	go test -race -count=1 ./...

STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Formatting, vet, staticcheck, the Prometheus rules and their unit tests,
# and generated code that matches its source: gqlgen's, genqlient's, GraphQL
# Code Generator's (which needs node and npm, and the registry once per
# machine) and the Grafana dashboard's.
check: prometheus
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	go vet ./...
	go run $(STATICCHECK) ./...
	promtool check rules deploy/prometheus/*.rules.yml
	cd deploy/prometheus && promtool test rules *.rules.test.yml
	@before=$$(find graph resolvers client deploy/grafana examples/catalog/graph examples/catalog/resolvers -name '*.go' -o -path 'client/web/*' -type f -o -name '*.json' -path 'deploy/grafana/*' | sort | xargs cat | sha256sum); \
	go generate ./... && \
	after=$$(find graph resolvers client deploy/grafana examples/catalog/graph examples/catalog/resolvers -name '*.go' -o -path 'client/web/*' -type f -o -name '*.json' -path 'deploy/grafana/*' | sort | xargs cat | sha256sum); \
	[ "$$before" = "$$after" ] || { echo "generated code was stale: go generate ./... changed it; commit the result"; exit 1; }

generate:
	go generate ./...

# A short run of every fuzz target; findings land in testdata/fuzz and are
# committed, so that they run as ordinary test cases from then on.
FUZZTIME ?= 20s
FUZZ_TARGETS = ./cache:FuzzDeriveKey ./cache:FuzzDecodeEntry \
	./internal/rest:FuzzParse ./internal/gqlhttp:FuzzPost ./fieldcache:FuzzCodecDecode

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		go test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 || exit 1; \
	done

# The load comparison of BENCHMARKS.md: the service against the HTTP floor
# and the Redis ceiling on this machine (ROUNDS, DURATION, CONNS, FILL).
load:
	bash bench/load.sh

# What a paused or slow Redis costs a request (figures in RELIABILITY.md).
stall:
	bench/stall.sh

# A rolling restart of two replicas behind HAProxy under constant load:
# failed requests and their status codes (figures in docs/operations.md).
rolling:
	bench/rolling.sh

# Debian's prometheus package brings prometheus and promtool: make check
# tests the alert and recording rules with promtool, and make test runs a
# real Prometheus against the service. Its recommends (exporters) are not
# needed; in a container its service is not started, and the tests use a
# port of their own.
prometheus:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
		echo "prometheus not found; installing Debian's prometheus package (rules tests and the monitoring test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
