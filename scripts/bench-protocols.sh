#!/usr/bin/env bash
# Measures the fan-out of one stream over each protocol in one sitting, one
# run right after the other, and prints the CPU per GB with the ratios the
# targets of BENCHMARKS.md are about:
#   scripts/bench-protocols.sh [VIEWERS] [COALESCE] [DURATION] [RUNS...]
# Defaults: 1000 viewers, adaptive coalescing, 20s measured, and the runs
#   h1 h1s h2-10 h2-conn h3-10 baseline
# RUNS are PROTOs of scripts/bench-fanout.sh against the ingest, or
# "baseline" (cmd/bench/baseline over plain HTTP/1.1, at COALESCE if it is a
# fixed wait, else at BASELINE_COALESCE, default 150ms: about the adaptive
# wait at 1000 viewers of this stream). With BENCH_BEFORE set to another
# ingest binary, each ingest run is made twice, that binary's first.
# The machine's load average is read before each run and printed beside
# it: the load tool shares the machine with the server, so compare the rows
# of one sitting, not sittings. JSON reports go to bench-protocols-TIME/.
set -euo pipefail
viewers=${1:-1000}
coalesce=${2:-adaptive}
duration=${3:-20s}
shift $(($# < 3 ? $# : 3))
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(h1 h1s h2-10 h2-conn h3-10 baseline)
script=$(cd "$(dirname "$0")" && pwd)/bench-fanout.sh
dir=$PWD/bench-protocols-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$dir"
cd "$dir"

results=()
measure() { # label, then bench-fanout.sh's arguments
  local label=$1 load json
  shift
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "== $label (load average $load)" >&2
  "$script" "$@" >"$label.log" 2>&1 || { echo "$label failed, see $dir/$label.log" >&2; return; }
  json=$(ls -t bench-*.json | head -1)
  mv "$json" "$label.json"
  results+=("$label $load")
}
for run in "${runs[@]}"; do
  case $run in
  baseline)
    wait=$coalesce
    case $wait in adaptive*) wait=${BASELINE_COALESCE:-150ms} ;; esac
    measure "baseline-$wait" baseline "$viewers" "$wait" "$duration"
    ;;
  *)
    if [ -n "${BENCH_BEFORE:-}" ]; then
      BENCH_INGEST=$BENCH_BEFORE measure "$run-before" ingest "$viewers" "$coalesce" "$duration" "$run"
    fi
    measure "$run" ingest "$viewers" "$coalesce" "$duration" "$run"
    ;;
  esac
done

cpu() { jq -r '.server.cpu_seconds_per_gb' "$1.json"; }
printf '\n%d viewers, coalescing %s, %s measured; %s\n\n' "$viewers" "$coalesce" "$duration" "$dir"
printf '| run | load avg | CPU-s per GB | ratio | lag p50 / p99 ms | delivered Mbit/s (slowest viewer) | viewers ok, failed | stalls | RSS per viewer KiB |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for r in "${results[@]}"; do
  read -r label load <<<"$r"
  ratio= ref= suffix=
  case $label in *-before) suffix=-before ;; esac
  case $label in h1s*) ref=h1 ;; h2* | h3*) ref=h1s ;; esac
  [ -f "$ref$suffix.json" ] || suffix=
  if [ -n "$ref" ] && [ -f "$ref$suffix.json" ]; then
    ratio=$(jq -rn "$(cpu "$label") / $(cpu "$ref$suffix") * 100 | round / 100 | tostring + \" to $ref$suffix\"")
  fi
  jq -r --arg name "$label" --arg load "$load" --arg ratio "$ratio" '
    "| \($name) | \($load) | \(.server.cpu_seconds_per_gb * 100 | round / 100) | \($ratio) | \(.delivery_lag_ms.p50 | round) / \(.delivery_lag_ms.p99 | round) | \(.delivered.total_mbps | round) (\(.delivered.per_viewer_min_mbps * 100 | round / 100)) | \(.connections.ok), \(.connections.failed) | \(.stalls) | \(.server.rss_per_viewer_bytes / 1024 | round) |"' "$label.json"
done
