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
# A run may be named more than once (h1 h1s h1 h1s: pairs, alternated);
# the second is labelled h1.2, and its ratio is to the same round's
# reference.
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
# What AES-GCM seals per second on this machine just before each run, with
# Go's crypto (web's BenchmarkHTTPSBatchSealOnly): the per-byte floor of
# every encrypted run, which moves with the host's other tenants.
(cd "$(dirname "$script")/.." && go test -c -o "$dir/web.test" ./web)
cd "$dir"
sealRate() {
  ./web.test -test.run '^$' -test.bench '^BenchmarkHTTPSBatchSealOnly$' -test.benchtime 1s |
    awk '/MB\/s/ { for (i = 1; i < NF; i++) if ($(i + 1) == "MB/s") printf "%.1f", $i / 1000 }'
}

results=()
declare -A rounds # a run named again is labelled NAME.2, NAME.3, ...
measure() { # label, then bench-fanout.sh's arguments
  local label=$1 load json seal
  shift
  rounds[$label]=$((${rounds[$label]:-0} + 1))
  [ "${rounds[$label]}" = 1 ] || label=$label.${rounds[$label]}
  load=$(cut -d' ' -f1 /proc/loadavg)
  seal=$(sealRate)
  echo "== $label (load average $load, AES-GCM $seal GB/s)" >&2
  "$script" "$@" >"$label.log" 2>&1 || { echo "$label failed, see $dir/$label.log" >&2; return; }
  json=$(ls -t bench-*.json | head -1)
  mv "$json" "$label.json"
  results+=("$label $load $seal")
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
printf '| run | load avg | AES-GCM GB/s | CPU-s per GB | ratio | lag p50 / p99 ms | delivered Mbit/s (slowest viewer) | viewers ok, failed | stalls | RSS per viewer KiB |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for r in "${results[@]}"; do
  read -r label load seal <<<"$r"
  ratio= ref= suffix= round=
  case $label in *.[0-9]*) round=.${label##*.} ;; esac
  case ${label%"$round"} in *-before) suffix=-before ;; esac
  case $label in h1s*) ref=h1 ;; h2* | h3*) ref=h1s ;; esac
  # The reference is the same round's run, else the first one.
  [ -f "$ref$suffix$round.json" ] && suffix=$suffix$round
  [ -f "$ref$suffix.json" ] || suffix=${suffix#-before}
  if [ -n "$ref" ] && [ -f "$ref$suffix.json" ]; then
    ratio=$(jq -rn "$(cpu "$label") / $(cpu "$ref$suffix") * 100 | round / 100 | tostring + \" to $ref$suffix\"")
  fi
  jq -r --arg name "$label" --arg load "$load" --arg seal "$seal" --arg ratio "$ratio" '
    "| \($name) | \($load) | \($seal) | \(.server.cpu_seconds_per_gb * 100 | round / 100) | \($ratio) | \(.delivery_lag_ms.p50 | round) / \(.delivery_lag_ms.p99 | round) | \(.delivered.total_mbps | round) (\(.delivered.per_viewer_min_mbps * 100 | round / 100)) | \(.connections.ok), \(.connections.failed) | \(.stalls) | \(.server.rss_per_viewer_bytes / 1024 | round) |"' "$label.json"
done
