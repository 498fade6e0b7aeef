#!/usr/bin/env bash
# Installs what aduan and its tests need on a fresh Debian machine: exactly the versions (and
# hashes) of deploy/requirements.lock and aduan itself (pip), and Prometheus with promtool
# (Debian's `prometheus` package) for the alert-rule tests and the metrics integration test.
# Java 17 and Maven must be there already: deploy/kafka/broker.sh fetches the Kafka jars with
# Maven on first use. The lock is made as the README's Development section says.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pip=(python3 -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --root-user-action=ignore --require-hashes -r deploy/requirements.lock
# Without build isolation the locked setuptools builds aduan, and --no-deps keeps pip from
# fetching anything the lock does not name.
"${pip[@]}" install --root-user-action=ignore --no-deps --no-build-isolation -e .
if ! broken="$(python3 -m pip check 2>&1)"; then
  echo "$broken" >&2
  echo "setup.sh: pip check found the broken requirements above in the python3 on PATH;" \
    "upgrade or remove the packages it names, or install aduan in a virtual environment" \
    "(python3 -m venv), then run deploy/setup.sh again" >&2
  exit 1
fi

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  # Debian's package also enables a system service; aduan starts its own server instead.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus \
    >/dev/null
fi
