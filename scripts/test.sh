#!/usr/bin/env bash
# Runs every flowdeck test on this machine, installing first what a fresh Debian/Ubuntu machine
# lacks: Chromium and chromedriver (browser tests), the PostgreSQL server and client. Uses sudo
# when not root. Starts the local PostgreSQL cluster when none answers on 127.0.0.1:5432 (the tests
# then create one database each there; without it they start an embedded server under target/).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test hostile`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${need[*]} — install them with your package manager, then run this again" >&2
    exit 1
  fi
  say "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    say "starting the local PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
  fi
fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null \
  && psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  say "PostgreSQL on 127.0.0.1:5432: each test creates its own database there"
else
  say "no usable PostgreSQL on 127.0.0.1:5432: the tests start an embedded one under target/"
fi

say "cargo test $*"
exec cargo test "$@"
