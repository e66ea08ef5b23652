#!/usr/bin/env bash
# The live demo on the embedded stack (make demo / make down):
#   up    stack up, then in the background: the streams worker, the ClickHouse sink, a
#         real-time simulation of Jiangsu's and Zhejiang's centers (some with problems)
#         starting now, and the dashboard; prints its URL and a demo account. The simulated
#         centers staff their lines round the clock, every day (--service-hours
#         00:00-24:00), so agents answer calls whatever the time in China.
#   down  stops those background processes (the stack itself: hotline stack down).
# Logs and pid files: .hotline/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DEMO=${HOTLINE_STACK__HOME:-.hotline}/demo
PORT=${DASHBOARD_PORT:-8000}
export HOTLINE_DEMO=${HOTLINE_DEMO:-true}
mkdir -p "$DEMO"

running() { [ -f "$DEMO/$1.pid" ] && kill -0 "$(cat "$DEMO/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if running "$name"; then echo "  $name already running (pid $(cat "$DEMO/$name.pid"))"; return; fi
  setsid nohup "$@" >"$DEMO/$name.log" 2>&1 </dev/null &
  echo $! >"$DEMO/$name.pid"
  echo "  $name started (pid $!, log $DEMO/$name.log)"
}

case "${1:-}" in
  up)
    "$BIN/hotline" stack up
    echo "background processes:"
    # exit 70 = a step that failed or a stalled consumer: restarting resumes exactly
    start streams bash -c 'while true; do "$0" streams worker --status-file "$1" && exit 0
      code=$?; [ "$code" -eq 70 ] || exit "$code"
      echo "streams worker exited 70: restarting" >&2; sleep 1; done' \
      "$BIN/hotline" "$DEMO/streams-status.json"
    start sink "$BIN/hotline" sink --status-file "$DEMO/sink-status.json"
    start simulator "$BIN/hotline" simulate --centers 320000,330000 \
      --profile C320500=understaffed --profile C321300=unstaffed_line \
      --service-hours 00:00-24:00 --unknown-years weekdays \
      --start "$(TZ=Asia/Shanghai date +%Y-%m-%dT%H:%M)" --hours 12 --speed 1 \
      --to kafka --out "$DEMO/simulator" --quiet
    account=$("$BIN/hotline" dashboard demo-account --port "$PORT")  # before its server starts
    start dashboard "$BIN/hotline" dashboard --host 127.0.0.1 --port "$PORT"
    echo
    echo "$account"
    echo "Open http://127.0.0.1:$PORT/ and choose 实时 (live): calls arrive in real time."
    echo "Worker and sink, alive and counting: $BIN/hotline health $DEMO/*-status.json"
    echo "Stop everything with: make down"
    ;;
  down)
    for pidfile in "$DEMO"/*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$pidfile"
      echo "stopped $(basename "$pidfile" .pid)"
    done
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
