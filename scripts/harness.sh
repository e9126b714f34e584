#!/usr/bin/env bash
# `make harness`: the reliability and security harness (not part of `make test`).
# A private PostgreSQL cluster (initdb into a temporary directory, port HARNESS_PG_PORT),
# the suite installed there, Odoo with 2 workers and the queue_job runner on
# HARNESS_HTTP_PORT, the demo PSA on HARNESS_SIM_PORT; then duplicates/disorder, process
# faults, remote faults, hostile input and the access matrix, each followed by the
# invariant checks. Prints one table; exits non-zero when an invariant fails.
# HARNESS_MODE=short is the quick run (~3 min); the full run takes about 10 minutes.
export RUN_DIR=${RUN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run-harness}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv

HARNESS_HTTP_PORT=${HARNESS_HTTP_PORT:-8469}
HARNESS_PG_PORT=${HARNESS_PG_PORT:-$((HARNESS_HTTP_PORT + 6))}
HARNESS_SIM_PORT=${HARNESS_SIM_PORT:-$((HARNESS_HTTP_PORT + 2))}
HARNESS_GEVENT_PORT=${HARNESS_GEVENT_PORT:-$((HARNESS_HTTP_PORT + 1))}
for port in "$HARNESS_HTTP_PORT" "$HARNESS_GEVENT_PORT" "$HARNESS_SIM_PORT" "$HARNESS_PG_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another 'make harness'?). Set HARNESS_HTTP_PORT / HARNESS_PG_PORT."
  fi
done
[[ -x ${HARNESS_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]] \
  || HARNESS_PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[[ -x ${HARNESS_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]] \
  || die "no initdb found; install PostgreSQL's server binaries or set HARNESS_PG_BIN"

export HARNESS_HTTP_PORT HARNESS_PG_PORT HARNESS_SIM_PORT HARNESS_GEVENT_PORT HARNESS_PG_BIN \
  HARNESS_RUN_DIR=$RUN_DIR ODOO_SRC VENV SUITE_ADDONS \
  HARNESS_ADDONS_PATH="$ODOO_SRC/odoo/addons,$ODOO_SRC/addons,$(site_addons),$ROOT" \
  PSA_CONNECTOR_KEY=${PSA_CONNECTOR_KEY:-$(dev_key)}
cd "$ROOT"
exec "$VENV/bin/python" -m harness.run "$@"
