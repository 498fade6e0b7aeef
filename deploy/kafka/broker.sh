#!/usr/bin/env bash
# Apache Kafka in KRaft mode (each node a broker and a controller in one process) on localhost:
# one node for development and tests, or a cluster of three, the shape production runs in.
#
#   deploy/kafka/broker.sh start|stop|status
#
# KAFKA_DATA_DIR  data, logs and pid files (default: .run/kafka in the checkout)
# KAFKA_PORT      client port of node 1 (default 9092); its controller listens on KAFKA_PORT + 1,
#                 node N on KAFKA_PORT + 2(N-1) and the port after it
# KAFKA_NODES     1 (default) or 3: with 3, every topic the cluster makes itself has 3 replicas
#                 and min.insync.replicas is 2, so one node may fail without losing a write;
#                 each node keeps its data in KAFKA_DATA_DIR/node-N
# KAFKA_SASL      1: secured mode. Clients must log in with SASL/SCRAM-SHA-512 (SASL_PLAINTEXT:
#                 add TLS in production) and Kafka's standard authorizer allows only what ACLs
#                 grant; `admin` is the super user, its password in KAFKA_ADMIN_PASSWORD_FILE
#                 (default: KAFKA_DATA_DIR/admin.password, made on first start, mode 600)
# KAFKA_LIBS_DIR  where the broker jars are fetched from Maven Central (default: .run/kafka-libs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${KAFKA_DATA_DIR:-$root/.run/kafka}"
libs="${KAFKA_LIBS_DIR:-$root/.run/kafka-libs}"
port="${KAFKA_PORT:-9092}"
nodes="${KAFKA_NODES:-1}"
[[ "$nodes" == 1 || "$nodes" == 3 ]] || { echo "broker.sh: KAFKA_NODES must be 1 or 3" >&2; exit 1; }
sasl="${KAFKA_SASL:-0}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"  # absolute: the broker's config must not depend on the caller's cwd
admin_password_file="${KAFKA_ADMIN_PASSWORD_FILE:-$data/admin.password}"

node_dir() { if ((nodes == 1)); then echo "$data"; else echo "$data/node-$1"; fi; }
client_port() { echo $((port + 2 * ($1 - 1))); }
controller_port() { echo $(($(client_port "$1") + 1)); }
pidfile() { echo "$(node_dir "$1")/broker.pid"; }
logfile() { echo "$(node_dir "$1")/broker.log"; }

die() { echo "broker.sh: $*" >&2; exit 1; }

running() { [[ -f "$(pidfile "$1")" ]] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

bootstrap() {
  local node servers=()
  for ((node = 1; node <= nodes; node++)); do servers+=("localhost:$(client_port "$node")"); done
  (IFS=,; echo "${servers[*]}")
}

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
  local node=$1 dir voters=() replicas=1 min_isr=1 other
  dir="$(node_dir "$node")"
  for ((other = 1; other <= nodes; other++)); do
    voters+=("$other@localhost:$(controller_port "$other")")
  done
  ((nodes == 3)) && replicas=3 min_isr=2
  mkdir -p "$dir/log-dirs"
  (umask 077; : > "$dir/server.properties")  # in secured mode it holds the admin password
  if [[ "$sasl" == 1 ]]; then
    local password
    password="$(cat "$admin_password_file")"
    cat > "$dir/server.properties" <<PROPERTIES
listeners=SASL_PLAINTEXT://localhost:$(client_port "$node"),CONTROLLER://localhost:$(controller_port "$node")
advertised.listeners=SASL_PLAINTEXT://localhost:$(client_port "$node")
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$password";
# KRaft controllers cannot check SCRAM (its credentials live in the metadata they serve): PLAIN.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$password" user_admin="$password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
PROPERTIES
  else
    cat > "$dir/server.properties" <<PROPERTIES
listeners=PLAINTEXT://localhost:$(client_port "$node"),CONTROLLER://localhost:$(controller_port "$node")
advertised.listeners=PLAINTEXT://localhost:$(client_port "$node")
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPERTIES
  fi
  cat >> "$dir/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
controller.listener.names=CONTROLLER
log.dirs=$dir/log-dirs
num.partitions=1
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPERTIES
}

java_opts=(-Xms256m -Xmx1g "-Dlog4j2.configurationFile=$here/log4j2.yaml" -cp "$libs/*")

wait_ready() {
  local node=$1 deadline=$((SECONDS + 120))
  until grep -q "Kafka Server started" "$(logfile "$node")" 2>/dev/null; do
    if ! running "$node"; then
      tail -n 30 "$(logfile "$node")" >&2
      echo "broker.sh: node $node exited while starting; its log: $(logfile "$node")" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "broker.sh: node $node did not start within 120 s; its log: $(logfile "$node")" >&2
      return 1
    fi
    sleep 0.5
  done
}

start_node() {
  local node=$1 dir
  dir="$(node_dir "$node")"
  running "$node" && return
  write_config "$node"
  if [[ ! -f "$dir/log-dirs/meta.properties" ]]; then
    local scram=() args="$dir/format.args"
    if [[ "$sasl" == 1 ]]; then
      # Any local user can read a command line (ps): the tool reads the password from a file
      # named after an @ instead, one argument a line. printf is a shell builtin: no command line.
      (umask 077; printf '%s\n' --add-scram \
        "SCRAM-SHA-512=[name=admin,password=$(< "$admin_password_file")]" > "$args")
      scram=("@$args")
    fi
    java "${java_opts[@]}" kafka.tools.StorageTool format --config "$dir/server.properties" \
      --cluster-id "$cluster_id" "${scram[@]}" >> "$dir/format.log" 2>&1 \
      || { rm -f "$args"; die "formatting the storage of node $node failed; see $dir/format.log"; }
    rm -f "$args"
  fi
  : > "$(logfile "$node")"
  nohup java "${java_opts[@]}" kafka.Kafka "$dir/server.properties" >> "$(logfile "$node")" 2>&1 \
    < /dev/null &
  echo $! > "$(pidfile "$node")"
}

start() {
  local node
  command -v java >/dev/null || die "Java 17 or newer is needed to run the broker"
  fetch_jars
  # All nodes share one cluster id, kept so that a restart finds the same cluster.
  # (The tool logs a line to stdout before the id: keep the last line only.)
  [[ -f "$data/cluster.id" ]] || java "${java_opts[@]}" kafka.tools.StorageTool random-uuid \
    2>/dev/null | tail -n 1 > "$data/cluster.id"
  cluster_id="$(cat "$data/cluster.id")"
  if [[ "$sasl" == 1 && ! -s "$admin_password_file" ]]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$admin_password_file")
  fi
  # Every node starts before any waits: a node of a cluster is ready only once a quorum is up.
  for ((node = 1; node <= nodes; node++)); do start_node "$node"; done
  for ((node = 1; node <= nodes; node++)); do
    # A start that failed stops the nodes it started: none is left running unseen.
    wait_ready "$node" || { stop 2>/dev/null; exit 1; }
  done
  bootstrap
}

stop() {
  local node pid pids=() deadline=$((SECONDS + 60))
  for ((node = 1; node <= nodes; node++)); do
    if running "$node"; then pids+=("$(cat "$(pidfile "$node")")"); else rm -f "$(pidfile "$node")"; fi
  done
  ((${#pids[@]})) || { echo "broker.sh: not running" >&2; return; }
  # All at once: a node stopped after the others would wait for a quorum that is gone.
  kill -TERM "${pids[@]}"
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "broker.sh: no clean stop within 60 s; killing $pid" >&2
        kill -KILL "$pid"
      fi
      sleep 0.5
    done
  done
  for ((node = 1; node <= nodes; node++)); do rm -f "$(pidfile "$node")"; done
}

status() {
  local node up=0
  for ((node = 1; node <= nodes; node++)); do running "$node" && up=$((up + 1)); done
  if ((up == nodes)); then
    echo "running ($nodes node(s)) at $(bootstrap), data in $data"
  else
    echo "not running ($up of $nodes node(s) up; data in $data)"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: broker.sh start|stop|status" ;;
esac
