#!/usr/bin/env bash
# The whole pipeline on this machine, for a first look:
#
#   deploy/local.sh up     start the broker, the worker and aduan serve, produce the bundled
#                          sample, print the messages per topic read back from Kafka and the
#                          address of the agencies' API
#   deploy/local.sh down   stop aduan serve, the worker and the broker
#
# Uses the ADUAN_* and KAFKA_* settings of the environment (see `aduan --help` and broker.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="$root/.run"
pidfile="$run/worker.pid"
log="$run/worker.log"
serve_pidfile="$run/serve.pid"
serve_log="$run/serve.log"
sample="$root/deploy/samples/mentions.jsonl"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export ADUAN_BROKER="${ADUAN_BROKER:-localhost:$KAFKA_PORT}"
export ADUAN_AGENCIES="${ADUAN_AGENCIES:-$root/deploy/agencies.yaml}"
export ADUAN_WORKER_DIR="${ADUAN_WORKER_DIR:-$run/worker}"
export ADUAN_SERVE_DIR="${ADUAN_SERVE_DIR:-$run/serve}"
serve_port="${ADUAN_SERVE_PORT:-6068}"

die() { echo "local.sh: $*" >&2; exit 1; }
running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
worker_running() { running "$pidfile"; }
serve_running() { running "$serve_pidfile"; }

# Stops the process of pid file $1 with SIGTERM, then SIGKILL after 30 s.
stop() {
  if running "$1"; then
    kill -TERM "$(cat "$1")"
    local deadline=$((SECONDS + 30))
    while running "$1" && ((SECONDS < deadline)); do sleep 0.5; done
    running "$1" && kill -KILL "$(cat "$1")"
  fi
  rm -f "$1"
}

up() {
  command -v aduan >/dev/null || die "aduan is not installed: run deploy/setup.sh"
  mkdir -p "$run"
  "$root/deploy/kafka/broker.sh" start >/dev/null
  aduan topics create > /dev/null
  if ! worker_running; then
    : > "$log"
    nohup aduan worker >> "$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    local deadline=$((SECONDS + 120))
    until grep -q "Worker]: Ready" "$log"; do
      worker_running || { tail -n 20 "$log" >&2; die "the worker exited; its log: $log"; }
      ((SECONDS < deadline)) || die "the worker was not ready within 120 s; its log: $log"
      sleep 0.5
    done
  fi
  aduan produce --file "$sample"
  # The worker needs a moment: wait until the counts stop moving.
  local before="" now
  now="$(aduan topics count)"
  while [[ "$now" != "$before" ]]; do
    sleep 2
    before="$now"
    now="$(aduan topics count)"
  done
  echo "$now"
  if ! serve_running; then
    : > "$serve_log"
    nohup aduan serve >> "$serve_log" 2>&1 < /dev/null &
    echo $! > "$serve_pidfile"
    local ready=$((SECONDS + 60))
    until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://localhost:$serve_port/readyz" 2> /dev/null; do
      serve_running || { tail -n 20 "$serve_log" >&2; die "aduan serve exited; its log: $serve_log"; }
      ((SECONDS < ready)) || die "aduan serve was not ready within 60 s; its log: $serve_log"
      sleep 0.5
    done
  fi
  echo "local.sh: the agencies' inbox is at http://localhost:$serve_port/inbox and their" \
    "Open311 API at http://localhost:$serve_port/open311/v2/ (a key: aduan agencies key create" \
    "--agency kejati-jateng, or --admin for the province's overview; the API's document:" \
    "http://localhost:$serve_port/docs)" >&2
  echo "local.sh: logs in $log and $serve_log; stop everything with deploy/local.sh down" >&2
}

down() {
  stop "$serve_pidfile"
  stop "$pidfile"
  "$root/deploy/kafka/broker.sh" stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: local.sh up|down" ;;
esac
