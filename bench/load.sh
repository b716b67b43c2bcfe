#!/usr/bin/env bash
# Load comparison: the service's cache hits (GraphQL and REST) side by side
# with two references on the same machine under the same closed-loop load:
# the HTTP floor (a bare handler writing constant JSON) and the Redis ceiling
# (a bare handler doing one go-redis GET per request). Every process runs on
# 127.0.0.1 with a private redis-server; every run is bounded by DURATION.
# Rounds interleave the targets and the table reports medians, with each
# ratio taken within a round, because absolute numbers drift on a shared
# machine and ratios measured side by side do not.
#
#   make load                      # ROUNDS=3 DURATION=10s CONNS=32 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
FILL=${FILL:-1000000}

# shellcheck source=bench/lib.sh
. bench/lib.sh

echo "building..." >&2
go build -o "$tmp/gqlcache" .
go build -o "$tmp/refs" ./bench/refs

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
	--logfile "$tmp/redis.log" &
pids+=($!)
wait_port "$RP"
REDIS="redis://127.0.0.1:$RP/0"

FP=$(free_port)
"$tmp/refs" -mode floor -addr "127.0.0.1:$FP" 2>/dev/null &
pids+=($!)
CP=$(free_port)
"$tmp/refs" -mode ceiling -addr "127.0.0.1:$CP" -redis "$REDIS" 2>/dev/null &
pids+=($!)
SP=$(free_port)
ADDR="127.0.0.1:$SP" REDIS_URL="$REDIS" CACHE_TTL=1h MODE=production LOG_LEVEL=warn \
	"$tmp/gqlcache" >"$tmp/service.log" 2>&1 &
service=$!
pids+=("$service")
wait_port "$FP"
wait_port "$CP"
wait_port "$SP"

QUERY='{ data(query: \"weather:paris\") { source data cachedAt expiresInSeconds stale } }'
cat >"$tmp/graphql.lua" <<LUA
wrk.method = "POST"
wrk.body = [[{"query":"$QUERY"}]]
wrk.headers["Content-Type"] = "application/json"
LUA
cat >"$tmp/miss.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/data?query=miss-" .. math.random(1e9) .. "-" .. n)
end
LUA
curl -fsS -o /dev/null "http://127.0.0.1:$SP/data?query=weather:paris"
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "{\"query\":\"$QUERY\"}" "http://127.0.0.1:$SP/graphql"

# run NAME URL [LUA]: one wrk run; appends "name rps p50ms p99ms" to results.
run() {
	local name=$1 url=$2 script=${3:-} out
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency ${script:+-s "$script"} "$url")
	if grep -q "Non-2xx" <<<"$out"; then
		echo "$name: non-2xx answers:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk -v name="$name" -v round="$round" '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v)-1) * 1000
			return v
		}
		/Requests\/sec:/ { rps = $2 }
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		END { printf "%s %s %.0f %.3f %.3f\n", round, name, rps, p50, p99 }
	' <<<"$out" >>"$tmp/results"
	tail -n1 "$tmp/results" >&2
}

rss_peak() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$service/status"; }

for r in $(seq "$ROUNDS"); do
	round=hits$r
	run floor "http://127.0.0.1:$FP/data"
	run ceiling "http://127.0.0.1:$CP/data"
	run graphql "http://127.0.0.1:$SP/graphql" "$tmp/graphql.lua"
	run rest "http://127.0.0.1:$SP/data?query=weather:paris"
done
rss_hits=$(rss_peak)

echo "storing $FILL more entries in Redis..." >&2
redis-cli -p "$RP" DEBUG POPULATE "$FILL" bench:filler 200 >/dev/null
for r in $(seq "$ROUNDS"); do
	round=filled$r
	run ceiling "http://127.0.0.1:$CP/data"
	run graphql-1M "http://127.0.0.1:$SP/graphql" "$tmp/graphql.lua"
	run rest-1M "http://127.0.0.1:$SP/data?query=weather:paris"
done
for r in $(seq "$ROUNDS"); do
	round=miss$r
	run ceiling "http://127.0.0.1:$CP/data"
	run rest-miss "http://127.0.0.1:$SP/" "$tmp/miss.lua"
done
rss_all=$(rss_peak)

# For each target: median rps, p50, p99, and the median of its per-round
# ratio to the ceiling measured in the same round.
awk '
	{ rps[$2, $1] = $3; p50[$2] = p50[$2] " " $4; p99[$2] = p99[$2] " " $5; r[$2] = r[$2] " " $3 }
	$2 == "ceiling" { ceil[$1] = $3 }
	!seen[$2]++ { order[++n] = $2 }
	END {
		for (i = 1; i <= n; i++) {
			t = order[i]; ratios = ""
			for (k in rps) { split(k, kk, SUBSEP); if (kk[1] == t) ratios = ratios " " rps[k] / ceil[kk[2]] }
			print t, r[t], "|", p50[t], "|", p99[t], "|", ratios
		}
	}' "$tmp/results" | python3 -c '
import sys, statistics as st
print("| target | req/s | p50 ms | p99 ms | x ceiling |")
print("| --- | ---: | ---: | ---: | ---: |")
for line in sys.stdin:
    name, rest = line.split(" ", 1)
    parts = [list(map(float, p.split())) for p in rest.split("|")]
    rps, p50, p99, ratio = (st.median(p) for p in parts)
    print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {ratio:.2f} |")
'
echo
echo "service peak RSS: ${rss_hits} MiB after the hit runs, ${rss_all} MiB after ${FILL} entries and the miss runs"
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)"
