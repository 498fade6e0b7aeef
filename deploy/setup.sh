#!/usr/bin/env bash
# Installs what aduan and its tests need on a fresh Debian machine: aduan itself with its
# development tools (pip), and Prometheus with promtool (Debian's `prometheus` package) for the
# alert-rule tests and the metrics integration test. Java 17 and Maven must be there already:
# deploy/kafka/broker.sh fetches the Kafka jars with Maven on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[dev]'

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  # Debian's package also enables a system service; aduan starts its own server instead.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus \
    >/dev/null
fi
