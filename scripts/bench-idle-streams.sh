#!/usr/bin/env bash
# Measures the memory of idle streams (published, no viewers), for
# BENCHMARKS.md:  scripts/bench-idle-streams.sh [STREAMS] [CLIP]
# CLIP defaults to the ingest's demo clip (320x180, about 200 kbit/s); each
# stream keeps its window (config: window.duration, window.bytes). The
# figures are taken once every stream is published (on a busy machine the
# publishers take a while to connect) and 15 s more: windows full.
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-1000}
clip=${2:-internal/app/demo.flv}
port=${BENCH_PORT:-19936} # and the next one: off the ports of runs elsewhere
bin=$(mktemp -d)
trap 'kill "${pid:-}" "${bench:-}" 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ingest" ./cmd/ingest
go build -o "$bin/bench" ./cmd/bench
# Every stream comes from this one client: lift the per-client and count
# limits above the streams published.
printf 'admin:\n  listen: ""\nplayer:\n  enabled: false\nlimits:\n  streams: %d\n  publishers: %d\n  rtmp_connections: %d\n  rtmp_connections_per_client: 0\n' \
	$((streams + 10)) $((streams + 10)) $((streams + 10)) >"$bin/flvedge.yaml"
"$bin/ingest" --config "$bin/flvedge.yaml" --rtmp-listen 127.0.0.1:$port --http-listen 127.0.0.1:$((port + 1)) --log-level warn &
pid=$!
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
idle=$(rss)
"$bin/bench" --publish rtmp://127.0.0.1:$port/live/idle --streams "$streams" --file "$clip" --duration 200s >/dev/null &
bench=$!
published() { ss -Htn state established "( sport = :$port )" | wc -l; }
for _ in $(seq 120); do [ "$(published)" -ge "$streams" ] && break; sleep 1; done
[ "$(published)" -ge "$streams" ] || { echo "only $(published) of $streams streams published" >&2; exit 1; }
sleep 15 # every window full, then some
loaded=$(rss)
cpu0=$(awk '{print $14+$15}' "/proc/$pid/stat")
sleep 10
cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
kill "$bench" 2>/dev/null; wait "$bench" || true
tick=$(getconf CLK_TCK)
echo "streams $streams, clip $clip"
echo "server RSS idle $((idle / 1024)) MiB, with the streams $((loaded / 1024)) MiB: $(((loaded - idle) / streams)) KiB per stream"
echo "server CPU $(awk -v a="$cpu0" -v b="$cpu1" -v t="$tick" 'BEGIN {printf "%.0f", (b-a)/t/10*100}')% of one core for the publishes"
