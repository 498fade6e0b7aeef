#!/usr/bin/env bash
# Tries the newest releases of aduan's dependencies without touching this machine's Python.
usage() {
  cat <<'EOF'
usage: deploy/upgrade.sh [--latest] [--unit-only] [--dir DIR]

Re-resolves pyproject.toml's dependencies to their newest releases (uv pip compile --upgrade)
into DIR/requirements.lock, installs that lock in a scratch virtual environment (DIR/venv), runs
there ruff, mypy, lint-imports, the unit suite, the integration suite and
`python3 -m streams.compat` (one line per guarded version and patch), then prints how the new
lock differs from deploy/requirements.lock and how to adopt it. Exits 1 if any step failed.

  --latest     lift pyproject.toml's upper bounds (the packages whose private parts
               streams/compat reaches into), to see what their next releases break
  --unit-only  skip the integration suite (it starts its own brokers; minutes)
  --dir DIR    scratch directory (default: a new one under /tmp), kept afterwards
EOF
}
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
latest=0 integration=1 dir=""
while (($#)); do
  case "$1" in
    --latest) latest=1 ;;
    --unit-only) integration=0 ;;
    --dir) dir="${2:?--dir needs a directory}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
cd "$root"
python3 -m uv --version >/dev/null 2>&1 \
  || { echo "upgrade.sh: uv is missing: run deploy/setup.sh first" >&2; exit 1; }
dir="${dir:-$(mktemp -d /tmp/aduan-upgrade.XXXXXX)}"
mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"
lock="$dir/requirements.lock"
options=(--generate-hashes --python-version 3.11)
# The README's command, written into the lock's header: an adopted lock says how it is made.
regenerate="uv pip compile pyproject.toml --extra dev ${options[*]} -o deploy/requirements.lock"

echo "upgrade.sh: resolving into $lock"
if ((latest)); then
  # pyproject.toml's requirements, runtime and dev, without their `<` bounds.
  python3 - > "$dir/latest.in" <<'PY'
import tomllib
from packaging.requirements import Requirement

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
    req = Requirement(line)
    kept = [str(s) for s in req.specifier if s.operator not in ("<", "<=")]
    req.specifier = type(req.specifier)(",".join(kept))
    print(req)
PY
  python3 -m uv pip compile "$dir/latest.in" "${options[@]}" --upgrade --quiet -o "$lock"
else
  python3 -m uv pip compile pyproject.toml --extra dev "${options[@]}" --upgrade --quiet \
    --custom-compile-command "$regenerate" -o "$lock"
fi

rm -rf "$dir/venv"
python3 -m venv "$dir/venv"
pip=("$dir/venv/bin/pip" --disable-pip-version-check --quiet)
"${pip[@]}" install --require-hashes -r "$lock"
"${pip[@]}" install --no-deps --no-build-isolation -e .
export PATH="$dir/venv/bin:$PATH" VIRTUAL_ENV="$dir/venv" RUFF_CACHE_DIR="$dir/ruff-cache"

failed=()
step() {  # step NAME COMMAND...: runs it, its output in DIR/NAME.log
  if "${@:2}" > "$dir/$1.log" 2>&1; then
    echo "upgrade.sh: $1: $(tail -n 1 "$dir/$1.log")"
  else
    failed+=("$1")
    echo "upgrade.sh: $1 FAILED:"
    tail -n 25 "$dir/$1.log" | sed 's/^/    /'
  fi
}
step pip-check pip check
step ruff ruff check .
step ruff-format ruff format --check .
step mypy mypy --cache-dir "$dir/mypy-cache"
step lint-imports lint-imports --cache-dir "$dir/import-linter-cache"
echo "upgrade.sh: python3 -m streams.compat"
python3 -m streams.compat > "$dir/compat.log" 2>&1 || failed+=(compat)
sed 's/^/    /' "$dir/compat.log"
pytest=(python3 -m pytest -q -p no:cacheprovider)
if grep -q "NOT VERIFIED" "$dir/compat.log"; then
  # The worker refuses versions streams/compat/guard.py does not list as verified; the suites
  # are here to try them, so they run with the override, and the refusal test cannot pass.
  echo "upgrade.sh: the suites run with ADUAN_ALLOW_UNVERIFIED_VERSIONS=1"
  export ADUAN_ALLOW_UNVERIFIED_VERSIONS=1
  pytest+=(--deselect
    tests/integration/test_worker_start.py::test_the_worker_refuses_an_unverified_faust_version)
fi
step unit "${pytest[@]}" tests/unit
if ((integration)); then step integration "${pytest[@]}" tests/integration; fi

pins() { grep -E '^[A-Za-z0-9]' "$1" | sed 's/ .*//'; }
echo "upgrade.sh: $lock against deploy/requirements.lock:"
changes="$(awk -F== 'NR == FNR { old[$1] = $2; next } { new[$1] = $2 }
  END {
    for (n in new)
      if (!(n in old)) print n, new[n], "(added)"
      else if (old[n] != new[n]) print n, old[n], "->", new[n]
    for (n in old) if (!(n in new)) print n, old[n], "(removed)"
  }' <(pins deploy/requirements.lock) <(pins "$lock") | sort)"
echo "${changes:-the same versions}" | sed 's/^/    /'
if ((latest)); then
  echo "upgrade.sh: this lock ignores pyproject.toml's upper bounds: to move to a new minor," \
    "raise its bound there and its verified versions in streams/compat, then run deploy/upgrade.sh"
else
  echo "upgrade.sh: to adopt it: cp $lock deploy/requirements.lock && deploy/setup.sh, and add" \
    "any new version of a guarded package to VERIFIED in streams/compat/guard.py"
fi
if ((${#failed[@]})); then
  echo "upgrade.sh: FAILED: ${failed[*]} (logs in $dir)" >&2
  exit 1
fi
echo "upgrade.sh: every step passed (logs in $dir)"
