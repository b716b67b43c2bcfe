// Command gen writes gqlcache's Grafana dashboard (../gqlcache.json), built
// with the Grafana Foundation SDK so that its JSON keeps to the dashboard
// schema Grafana imports. make check regenerates it and fails if the
// committed file differs.
package main

//go:generate go run . -o ../gqlcache.json

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

func main() {
	out := flag.String("o", "", "write the dashboard to this file (default: standard output)")
	flag.Parse()
	b, err := build()
	if err == nil && *out != "" {
		err = os.WriteFile(*out, b, 0o644)
	} else if err == nil {
		_, err = os.Stdout.Write(b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// datasource is every panel's: the dashboard's datasource variable, so the
// JSON imports into any Grafana whatever its Prometheus is called.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// sel is the selector of the service's series the variables pick, with
// extra label matchers.
func sel(extra ...string) string {
	return "{" + strings.Join(append([]string{`job="$job"`, `instance=~"$instance"`}, extra...), ", ") + "}"
}

const window = "[$__rate_interval]"

// rate is the per-second rate of counter (with extra matchers) summed by
// the labels in by.
func rate(by, counter string, extra ...string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s%s%s))", by, counter, sel(extra...), window)
}

// quantile is histogram's q-quantile by the labels in by.
func quantile(q, by, histogram string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s_bucket%s%s)))", q, by+", le", histogram, sel(), window)
}

// ratio is the share of field results with status, by the labels in by.
func ratio(by, status string) string {
	return fmt.Sprintf("%s\n  / %s", rate(by, "gqlcache_field_results_total", `status="`+status+`"`), rate(by, "gqlcache_field_results_total"))
}

type target struct{ expr, legend string }

func queries(ts []target) []cog.Builder[variants.Dataquery] {
	var out []cog.Builder[variants.Dataquery]
	for i, t := range ts {
		out = append(out, prometheus.NewDataqueryBuilder().
			Expr(t.expr).LegendFormat(t.legend).RefId(string(rune('A'+i))).Datasource(datasource))
	}
	return out
}

func graph(title, description, unit string, ts ...target) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).Description(description).Unit(unit).Datasource(datasource).
		Targets(queries(ts)).Height(8).Span(8).Min(0).FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

func build() ([]byte, error) {
	// The classic dashboard model, not dashboardv2 (which the SDK prefers):
	// v2 imports only into Grafana 12 and later with its v2 API turned on,
	// the classic JSON into every Grafana an operator is likely to run.
	//lint:ignore SA1019 see above
	d, err := dashboard.NewDashboardBuilder("gqlcache").
		Uid("gqlcache").
		Description("A GraphQL and REST cache in front of an origin: traffic per door, what the cache did per field, the origin and its shield, the store, memory and the build. Alerts and recording rules: deploy/prometheus; docs/monitoring.md.").
		Tags([]string{"gqlcache", "cache", "graphql"}).
		Refresh("30s").Time("now-1h", "now").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Job").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(gqlcache_http_request_duration_seconds_count, job)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged)).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").Label("Instance").Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(gqlcache_http_request_duration_seconds_count{job="$job"}, instance)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).AllValue(".*")).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(graph("Requests by door", "HTTP requests per second, by route: graphql and data (the REST shim) are the doors.", "reqps",
			target{rate("route", "gqlcache_http_request_duration_seconds_count"), "{{route}}"})).
		WithPanel(graph("Latency by door", "Time to answer, p50 and p99, by route.", "s",
			target{quantile("0.5", "route", "gqlcache_http_request_duration_seconds"), "p50 {{route}}"},
			target{quantile("0.99", "route", "gqlcache_http_request_duration_seconds"), "p99 {{route}}"})).
		WithPanel(graph("Answers by status code", "HTTP answers per second by route and code: 503s are the origin's refusals (ORIGIN_BUSY, ORIGIN_UNAVAILABLE).", "reqps",
			target{rate("route, code", "gqlcache_http_request_duration_seconds_count"), "{{route}} {{code}}"})).
		WithRow(dashboard.NewRowBuilder("Cache")).
		WithPanel(graph("Hit ratio by door", "Share of cached-field answers served fresh from the cache; stale, missed, not-found and failed answers count against it.", "percentunit",
			target{ratio("door", "hit"), "{{door}}"}).Max(1)).
		WithPanel(graph("Answers by field and status", "Cached-field answers per second: hit (fresh), stale, miss (from the origin), not_found and error, by door and field.", "ops",
			target{rate("door, field, status", "gqlcache_field_results_total"), "{{door}} {{field}} {{status}}"})).
		WithPanel(graph("Hit ratio by field", "Share of each cached field's answers served fresh, both doors together.", "percentunit",
			target{ratio("field", "hit"), "{{field}}"}).Max(1)).
		WithPanel(graph("GraphQL fields by status", "Cached fields the GraphQL extension answered per second, by schema coordinate and status: HIT, STALE, MISS, NOT_STORED, ERROR, UNCACHEABLE (docs/fieldcache.md).", "ops",
			target{rate("field, status", "gqlcache_fieldcache_results_total"), "{{field}} {{status}}"})).
		WithPanel(graph("Batched reads", "Keys read ahead of their fields in one store round trip per list level: a list's cached fields.", "ops",
			target{rate("instance", "gqlcache_cache_prefetched_keys_total"), "{{instance}}"})).
		WithPanel(graph("Coalesced waits", "Misses that joined a fill in flight in this process, and fills that waited for another process's lease: origin calls saved.", "ops",
			target{rate("instance", "gqlcache_cache_coalesced_waits_total"), "coalesced {{instance}}"},
			target{rate("instance", "gqlcache_cache_lease_waits_total"), "lease waits {{instance}}"})).
		WithPanel(graph("Purges", "Purges per second by what they addressed (a key, or tags), and fills dropped because a purge overtook them.", "ops",
			target{rate("by", "gqlcache_cache_purges_total"), "by {{by}}"},
			target{rate("instance", "gqlcache_cache_purged_fills_total"), "fills dropped {{instance}}"})).
		WithPanel(graph("Near cache", "Hits answered in process without a store round trip, and announcements from other processes that drop copies.", "ops",
			target{rate("instance", "gqlcache_cache_near_hits_total"), "near hits {{instance}}"},
			target{rate("instance", "gqlcache_cache_near_announcements_total"), "announcements {{instance}}"})).
		WithRow(dashboard.NewRowBuilder("Origin")).
		WithPanel(graph("Origin calls and errors", "Calls to the origin per second, and those that failed by reason (error, timeout, retry_after).", "ops",
			target{rate("instance", "gqlcache_origin_fetches_total"), "calls {{instance}}"},
			target{rate("reason", "gqlcache_origin_errors_total"), "errors: {{reason}}"})).
		WithPanel(graph("Origin latency", "Time the origin took to answer, p50 and p99.", "s",
			target{quantile("0.5", "instance", "gqlcache_origin_fetch_duration_seconds"), "p50 {{instance}}"},
			target{quantile("0.99", "instance", "gqlcache_origin_fetch_duration_seconds"), "p99 {{instance}}"})).
		WithPanel(graph("Origin calls in flight", "Origin calls under way, per process, against ORIGIN_MAX_INFLIGHT.", "short",
			target{"gqlcache_origin_inflight" + sel(), "{{instance}}"})).
		WithPanel(graph("Origin refusals", "Origin calls not made, by reason: busy (ORIGIN_BUSY: no free slot in time), retry_after (the origin asked for a pause), breaker (its circuit breaker is open).", "ops",
			target{rate("reason", "gqlcache_origin_refusals_total"), "{{reason}}"})).
		WithPanel(graph("Origin breaker", "1 while the origin's circuit breaker is open or half-open: misses are refused or served stale.", "short",
			target{"gqlcache_origin_breaker_open" + sel(), "{{instance}}"}).Max(1)).
		WithRow(dashboard.NewRowBuilder("Store")).
		WithPanel(graph("Store latency", "Time each store call took, p50 and p99: what REDIS_TIMEOUT and REDIS_SLOW_CALL are chosen from.", "s",
			target{quantile("0.5", "instance", "gqlcache_store_call_duration_seconds"), "p50 {{instance}}"},
			target{quantile("0.99", "instance", "gqlcache_store_call_duration_seconds"), "p99 {{instance}}"})).
		WithPanel(graph("Store errors and slow calls", "Store operations that failed or were skipped by the open breaker, by operation, and calls slower than REDIS_SLOW_CALL.", "ops",
			target{rate("op", "gqlcache_store_errors_total"), "errors: {{op}}"},
			target{rate("instance", "gqlcache_store_slow_calls_total"), "slow {{instance}}"})).
		WithPanel(graph("Store breaker", "1 while the store is bypassed (its circuit breaker open or half-open): every request is a miss.", "short",
			target{"gqlcache_store_breaker_open" + sel(), "{{instance}}"}).Max(1)).
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(graph("Memory against its limit", "Resident memory against the container's limit (absent without one); what the Go runtime holds against its soft limit (set from the container's limit or GOMEMLIMIT; absent when off).", "bytes",
			target{"process_resident_memory_bytes" + sel(), "resident {{instance}}"},
			target{"gqlcache_memory_limit_bytes" + sel() + " > 0", "container limit {{instance}}"},
			target{"go_memstats_sys_bytes" + sel() + " - go_memstats_heap_released_bytes" + sel(), "Go runtime {{instance}}"},
			target{"go_gc_gomemlimit_bytes" + sel() + " < 2^62", "Go soft limit {{instance}}"})).
		WithPanel(stat.NewPanelBuilder().
			Title("Build").Description("Version, revision and Go version of each running process.").
			Datasource(datasource).Height(8).Span(16).
			Targets(queries([]target{{"gqlcache_build_info" + sel(), "{{instance}} {{version}} {{revision}} {{goversion}}"}})).
			TextMode(common.BigValueTextModeName).GraphMode(common.BigValueGraphModeNone).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))).
		Build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	return append(b, '\n'), err
}
