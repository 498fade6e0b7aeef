#!/usr/bin/env bash
# The whole pipeline on this machine, for a first look:
#
#   deploy/local.sh up     start the broker and the worker, produce the bundled sample,
#                          print the messages per topic read back from Kafka
#   deploy/local.sh down   stop the worker and the broker
#
# Uses the ADUAN_* and KAFKA_* settings of the environment (see `aduan --help` and broker.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="$root/.run"
pidfile="$run/worker.pid"
log="$run/worker.log"
sample="$root/deploy/samples/mentions.jsonl"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export ADUAN_BROKER="${ADUAN_BROKER:-localhost:$KAFKA_PORT}"
export ADUAN_AGENCIES="${ADUAN_AGENCIES:-$root/deploy/agencies.yaml}"
export ADUAN_WORKER_DIR="${ADUAN_WORKER_DIR:-$run/worker}"

die() { echo "local.sh: $*" >&2; exit 1; }
worker_running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

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
  echo "local.sh: worker log in $log; stop everything with deploy/local.sh down" >&2
}

down() {
  if worker_running; then
    kill -TERM "$(cat "$pidfile")"
    local deadline=$((SECONDS + 30))
    while worker_running && ((SECONDS < deadline)); do sleep 0.5; done
    worker_running && kill -KILL "$(cat "$pidfile")"
  fi
  rm -f "$pidfile"
  "$root/deploy/kafka/broker.sh" stop
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: local.sh up|down" ;;
esac
