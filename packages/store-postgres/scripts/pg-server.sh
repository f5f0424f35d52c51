#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benches.
#
#   pg-server.sh start DIR   creates DIR/data (if missing) and starts a server on a free loopback
#                            port (the one it had, when started before); prints its URL
#                            (postgres://postgres@127.0.0.1:PORT/postgres) and writes it to DIR/url
#   pg-server.sh stop DIR    stops it (fast shutdown)
#   pg-server.sh restart DIR stops it and starts it again on the same port
#
# initdb refuses to run as root, so as root the cluster is owned by the `postgres` user.
# PG_BIN overrides where the binaries are (default: Debian's newest /usr/lib/postgresql/*/bin).
set -euo pipefail
cmd=${1:?usage: pg-server.sh start|stop|restart DIR}
dir=${2:?usage: pg-server.sh start|stop|restart DIR}
bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do bin=$d; break; done
  [ -z "$bin" ] && command -v initdb >/dev/null 2>&1 && bin=$(dirname "$(command -v initdb)")
fi
[ -x "$bin/pg_ctl" ] || { echo "pg-server.sh: no PostgreSQL binaries found (install Debian's postgresql, or set PG_BIN)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1" || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if [ -f "$dir/url" ] && as_owner "'$bin/pg_ctl' -D '$dir/data' status >/dev/null 2>&1"; then
    cat "$dir/url" # already running
    exit 0
  fi
  mkdir -p "$dir/sock" && { [ "$(id -u)" = 0 ] && chown postgres "$dir/sock" || true; }
  # A free port: ask the kernel for one, then hand it to the server (retry if taken meanwhile).
  # Started before: the same port again, so clients reconnect.
  old=""
  [ -f "$dir/url" ] && old=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
  for attempt in 1 2 3 4 5; do
    if [ -n "$old" ] && [ "$attempt" = 1 ]; then port=$old; else
      port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    fi
    if as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -o \"-p $port -k '$dir/sock' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on\" -w -t 60 start >/dev/null"; then
      url="postgres://postgres@127.0.0.1:$port/postgres"
      echo "$url" >"$dir/url"
      echo "$url"
      exit 0
    fi
  done
  cat "$dir/server.log" >&2
  exit 1
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast -w -t 60 stop >/dev/null"
  ;;
restart)
  as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -m fast -w -t 60 restart >/dev/null"
  ;;
*)
  echo "usage: pg-server.sh start|stop|restart DIR" >&2
  exit 2
  ;;
esac
