#!/usr/bin/env bash
# Checks the deployment files (run from .ci/run, or by hand from anywhere):
# the Kubernetes manifests against the API schemas (kubernetes-validate
# --strict, from PyPI, in a virtualenv), the compose file (docker-compose
# config), and the Prometheus rules (promtool check rules, and their unit
# tests with promtool test rules). Installs
# what is missing: Debian's docker-compose and prometheus packages, and the
# virtualenv under /var/cache/tasknet-ci (outside the checkout).
set -euo pipefail
cd "$(dirname "$0")"

CACHE=${TASKNET_CI_CACHE:-/var/cache/tasknet-ci}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.33.0}

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing $*: install it (apt-get install $*)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v docker-compose >/dev/null || apt_install docker-compose
command -v promtool >/dev/null || apt_install prometheus
command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

venv="$CACHE/venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    mkdir -p "$CACHE"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate
fi

echo "== kubernetes-validate --strict (Kubernetes $KUBERNETES_VERSION)"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "$KUBERNETES_VERSION" kubernetes/*.yaml

echo "== docker-compose config"
docker-compose -f compose.yaml config --quiet

echo "== promtool check rules"
promtool check rules prometheus/*.yaml

echo "== promtool test rules"
promtool test rules prometheus/tests/*.yaml

echo "== Grafana dashboard JSON"
python3 -m json.tool grafana/tasknet.json >/dev/null

echo "deployment files are valid"
