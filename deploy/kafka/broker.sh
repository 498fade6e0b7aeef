#!/usr/bin/env bash
# A one-node Apache Kafka (KRaft: broker and controller in one process) for development and tests.
#
#   deploy/kafka/broker.sh start|stop|status
#
# KAFKA_DATA_DIR  data, logs and pid file (default: .run/kafka in the checkout)
# KAFKA_PORT      client port (default 9092); the controller listens on KAFKA_PORT + 1
# KAFKA_LIBS_DIR  where the broker jars are fetched from Maven Central (default: .run/kafka-libs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${KAFKA_DATA_DIR:-$root/.run/kafka}"
libs="${KAFKA_LIBS_DIR:-$root/.run/kafka-libs}"
port="${KAFKA_PORT:-9092}"
controller_port=$((port + 1))
mkdir -p "$data"
data="$(cd "$data" && pwd)"  # absolute: the broker's config must not depend on the caller's cwd
pidfile="$data/broker.pid"
log="$data/broker.log"

die() { echo "broker.sh: $*" >&2; exit 1; }

running() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

fetch_jars() {
  local stamp
  stamp="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
  [[ "$(cat "$libs/.complete" 2>/dev/null)" == "$stamp" ]] && return
  rm -rf "$libs"  # another pom's jars must not mix with these
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the broker jars; install it first"
  echo "broker.sh: fetching the Kafka broker jars from Maven Central into $libs" >&2
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  echo "$stamp" > "$libs/.complete"
}

write_config() {
  mkdir -p "$data/log-dirs"
  cat > "$data/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$controller_port
listeners=PLAINTEXT://localhost:$port,CONTROLLER://localhost:$controller_port
advertised.listeners=PLAINTEXT://localhost:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/log-dirs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPERTIES
}

java_opts=(-Xms256m -Xmx1g "-Dlog4j2.configurationFile=$here/log4j2.yaml" -cp "$libs/*")

wait_ready() {
  local deadline=$((SECONDS + 120))
  until grep -q "Kafka Server started" "$log" 2>/dev/null; do
    running || { tail -n 30 "$log" >&2; die "the broker exited while starting; its log: $log"; }
    ((SECONDS < deadline)) || die "the broker did not start within 120 s; its log: $log"
    sleep 0.5
  done
}

start() {
  if running; then
    echo "localhost:$port"
    return
  fi
  command -v java >/dev/null || die "Java 17 or newer is needed to run the broker"
  fetch_jars
  write_config
  if [[ ! -f "$data/log-dirs/meta.properties" ]]; then
    java "${java_opts[@]}" kafka.tools.StorageTool format --config "$data/server.properties" \
      --cluster-id "$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
      >> "$data/format.log" 2>&1 || die "formatting the storage failed; see $data/format.log"
  fi
  : > "$log"
  nohup java "${java_opts[@]}" kafka.Kafka "$data/server.properties" >> "$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  wait_ready
  echo "localhost:$port"
}

stop() {
  running || { rm -f "$pidfile"; echo "broker.sh: not running" >&2; return; }
  local pid deadline=$((SECONDS + 60))
  pid="$(cat "$pidfile")"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "broker.sh: no clean stop within 60 s; killing $pid" >&2
      kill -KILL "$pid"
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

status() {
  if running; then
    echo "running (pid $(cat "$pidfile")) at localhost:$port, data in $data"
  else
    echo "not running (data in $data)"
    return 3
  fi
}

mkdir -p "$data"
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: broker.sh start|stop|status" ;;
esac
