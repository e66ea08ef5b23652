#!/usr/bin/env bash
# Installs the system tools hotline needs that pip cannot bring: Java 17 (runs the Kafka
# broker), Maven (resolves the pinned Kafka jars from Maven Central) and docker-compose
# (validates the compose files; no Docker engine is needed) and chromium (the dashboards'
# browser test drives it through Playwright), fonts-noto-cjk, pango and poppler-utils (the
# quality report's PDF and its check). Debian/Ubuntu packages via apt.
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
fonts=$(fc-list : family 2>/dev/null || true)
[[ $fonts == *"Noto Sans CJK"* ]] || missing+=(fonts-noto-cjk)
libs=$(ldconfig -p 2>/dev/null || true)
[[ $libs == *"libpangoft2-1.0.so"* ]] || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)

[ ${#missing[@]} -eq 0 ] && exit 0

echo "hotline: installing system packages: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "hotline: apt-get not found; install ${missing[*]} with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
