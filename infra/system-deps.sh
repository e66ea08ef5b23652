#!/usr/bin/env bash
# Installs the system tools hotline needs that pip cannot bring: Java 17 (runs the Kafka
# broker), Maven (resolves the pinned Kafka jars from Maven Central) and docker-compose
# (validates the compose files; no Docker engine is needed) and chromium (the dashboards'
# browser test drives it through Playwright), fonts-noto-cjk, pango and poppler-utils (the
# quality report's PDF and its check), Node.js 20+ with npm (`hotline dashboard assets`,
# run by `make install`, fetches ECharts with `npm ci`). Debian/Ubuntu packages via apt.
# Node.js comes from apt only when apt offers 20 or newer (Debian 13 does; Debian 12 and
# Ubuntu 24.04 have 18): otherwise the script installs the rest, then says so and exits 1:
# install Node.js 20+ with npm another way (nodejs.org, NodeSource, nvm) and run it again.
# Does nothing when every tool is already there.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi

# The quality report's PDF: Chinese text needs a CJK font; WeasyPrint draws with pango.
# (infra/docker/Dockerfile installs the same packages in the image.)
fonts=$(fc-list : family 2>/dev/null || true)
[[ $fonts == *"Noto Sans CJK"* ]] || missing+=(fonts-noto-cjk)
libs=$(ldconfig -p 2>/dev/null || true)
[[ $libs == *"libpangoft2-1.0.so"* ]] || missing+=(libpango-1.0-0 libpangoft2-1.0-0)

# The PDF's check (tests, docs/quality.md): pdftoppm renders its pages.
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)

# The dashboards' ECharts: Node.js 20+ and its npm (dashboards/assets.py).
node_major() { local v; v=$(node --version 2>/dev/null) || return 1; v=${v#v}; echo "${v%%.*}"; }
need_node=false
major=$(node_major || true)
if [[ ! $major =~ ^[0-9]+$ ]] || [ "$major" -lt 20 ]; then
  need_node=true
elif ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

[ ${#missing[@]} -eq 0 ] && ! $need_node && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  $need_node && missing+=("Node.js 20+ with npm")
  echo "hotline: apt-get not found; install ${missing[*]} with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq

node_problem=""
if $need_node; then
  # apt's nodejs only if it is 20 or newer; its npm too, unless that nodejs brings npm itself.
  candidate=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  offered=${candidate#*:}
  offered=${offered%%.*}
  if [[ $offered =~ ^[0-9]+$ ]] && [ "$offered" -ge 20 ]; then
    missing+=(nodejs)
    apt-cache show "nodejs=$candidate" 2>/dev/null | grep -Eq '^Provides:.*\bnpm\b' ||
      missing+=(npm)
  else
    node_problem="hotline: Node.js 20+ with npm is needed (\`hotline dashboard assets\` runs npm ci);"
    found="no node"
    [ -z "$major" ] || found="node $major"
    node_problem+=" found $found, and apt offers nodejs"
    node_problem+=" ${candidate:-(none)}: install Node.js 20+ with npm another way"
    node_problem+=" (nodejs.org, NodeSource or nvm), then run make install again"
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "hotline: installing system packages: ${missing[*]}" >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "$node_problem" ]; then
  echo "$node_problem" >&2
  exit 1
fi
