#!/usr/bin/env bash
# The dashboard's CI: install what is missing, unit tests, check that the
# committed bundle (dashboard/dist, embedded in the tasknet binary) is what
# the sources build, then the browser tests against a real tasknet.
#
#   dashboard/ci.sh                      # uses target/debug/tasknet (cargo test builds it)
#   TASKNET_BIN=target/release/tasknet dashboard/ci.sh
#   DASHBOARD_SEED=0 dashboard/ci.sh     # without the seed-demo test, which loads 222,238 tasks
#                                        # (+95,517): about 1.5 min on a release build, 2.7 min on a
#                                        # debug one on a quiet 2-core machine (run by default)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "ci.sh: installing Debian's chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  # From the lock file only; --prefer-offline uses the npm cache when it has the packages.
  # vite 8.4 lists an optional dependency the registry does not serve, which
  # `npm ci` reports as a lock-file mismatch; `npm install` then installs the
  # same locked versions and skips the missing optional package.
  npm ci --prefer-offline --no-audit --no-fund \
    || npm install --prefer-offline --no-audit --no-fund --no-save
fi

echo "ci.sh: unit tests"
npx vitest run

echo "ci.sh: the committed bundle must be what the sources build"
npx buf generate
npx tsc --noEmit
npx tsc --noEmit -p e2e
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
npx vite build --logLevel warn --outDir "$fresh/dist"
if ! diff -r "$fresh/dist" dist; then
  echo "ci.sh: dashboard/dist differs from a fresh build: run 'npm run build' in dashboard/ and commit dist/" >&2
  exit 1
fi

export TASKNET_BIN="$(cd "$repo" && realpath "${TASKNET_BIN:-target/debug/tasknet}")"
if [ ! -x "$TASKNET_BIN" ]; then
  echo "ci.sh: $TASKNET_BIN is missing: build it first (cargo build, or cargo test builds it)" >&2
  exit 1
fi
echo "ci.sh: browser tests against $TASKNET_BIN"
# The seed report's figures in the browser are part of CI, not an extra.
export DASHBOARD_SEED="${DASHBOARD_SEED:-1}"
if [ "$DASHBOARD_SEED" = 0 ]; then unset DASHBOARD_SEED; fi
npx playwright test
