#!/usr/bin/env bash
# Installs what aduan and its tests need on a fresh Debian machine: exactly the versions (and
# hashes) of deploy/requirements.lock and aduan itself (pip), Prometheus with promtool (Debian's
# `prometheus` package) for the alert-rule tests and the metrics integration test, and Debian's
# chromium with its driver for the inbox's browser test (a browser download cannot work here).
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

packages=()
# Debian's prometheus package also enables a system service; aduan starts its own server instead.
command -v promtool >/dev/null && command -v prometheus >/dev/null || packages+=(prometheus)
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
# --no-install-recommends leaves out chromium's fonts: the screenshots would show boxes.
dpkg -s fonts-dejavu-core &>/dev/null || packages+=(fonts-dejavu-core)
if ((${#packages[@]})); then
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi
