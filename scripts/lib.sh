# shellcheck shell=bash
# Shared set-up for `make run`, `make test` and `make bench`: a virtual environment
# with Odoo 18 and the suite's pinned dependencies, and a PostgreSQL that answers.
# Everything here is idempotent; a second call costs seconds.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PSA_HOME=${PSA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/psa-connector}
PYTHON=${PYTHON:-python3.11}
ODOO_GIT_URL=${ODOO_GIT_URL:-https://github.com/odoo/odoo.git}
ODOO_BRANCH=18.0
RUN_DIR=${RUN_DIR:-$ROOT/.run}
mkdir -p "$PSA_HOME" "$RUN_DIR"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Odoo source: ODOO_SRC wins, then a checkout at /opt/odoo/18.0, then a shallow
# clone of Odoo's official 18.0 branch kept under $PSA_HOME.
resolve_odoo_src() {
  if [[ -n "${ODOO_SRC:-}" ]]; then
    [[ -f "$ODOO_SRC/odoo-bin" ]] || die "ODOO_SRC=$ODOO_SRC has no odoo-bin"
  elif [[ -f /opt/odoo/18.0/odoo-bin ]]; then
    ODOO_SRC=/opt/odoo/18.0
  else
    ODOO_SRC=$PSA_HOME/odoo-$ODOO_BRANCH
    if [[ ! -f "$ODOO_SRC/odoo-bin" ]]; then
      say "Cloning Odoo $ODOO_BRANCH from $ODOO_GIT_URL (once, about 1 GB)"
      git clone --depth 1 --branch "$ODOO_BRANCH" "$ODOO_GIT_URL" "$ODOO_SRC.part" \
        || die "could not clone Odoo; set ODOO_SRC to a local Odoo 18.0 checkout"
      mv "$ODOO_SRC.part" "$ODOO_SRC"
    fi
  fi
  export ODOO_SRC
}

# Lines of Odoo's requirements.txt that we replace: cbor2 5.4.2 does not build on
# Python 3.11 (constraints.txt pins 5.6.2); python-ldap needs system headers and
# only auth_ldap uses it.
odoo_requirements() {
  tr -d '\r' <"$ODOO_SRC/requirements.txt" | grep -viE '^(cbor2|python-ldap)[ =<>;]'
}

# The venv is keyed by everything that decides its content, so a changed pin
# builds a new one and an unchanged one is reused across clones.
ensure_venv() {
  resolve_odoo_src
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found; the suite is tested on CPython 3.11"
  local key
  key=$( { "$PYTHON" -c 'import sys; print(sys.version)'; echo "$ODOO_SRC";
           odoo_requirements; cat "$ROOT/requirements/constraints.txt" "$ROOT/requirements/suite.txt"; } \
         | sha256sum | cut -c1-12)
  VENV=${VENV:-$PSA_HOME/venv-$key}
  if [[ ! -f "$VENV/.complete" ]]; then
    say "Building the virtual environment $VENV (first time only, a few minutes)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip 'setuptools<70' wheel
    # The odoo distribution first: odoo-addon-queue-job requires odoo==18.0.*.
    register_odoo_source
    odoo_requirements >"$VENV/odoo-requirements.txt"
    # Several of Odoo's pinned sdists only build against the venv's older setuptools.
    "$VENV/bin/pip" install -q --no-build-isolation \
      -r "$VENV/odoo-requirements.txt" -r "$ROOT/requirements/suite.txt" \
      -c "$ROOT/requirements/constraints.txt"
    touch "$VENV/.complete"
  fi
  export VENV PATH="$VENV/bin:$PATH"
}

# What `pip install -e` does for Odoo, without Odoo's setup.py (which needs the
# setup/ folder that not every checkout has): the source on sys.path through a .pth
# file, and an `odoo` distribution record so that addons requiring odoo==18.0.* resolve.
register_odoo_source() {
  "$VENV/bin/python" - "$ODOO_SRC" <<'PY'
import pathlib, runpy, sys, sysconfig
src = pathlib.Path(sys.argv[1]).resolve()
release = runpy.run_path(str(src / "odoo" / "release.py"))
site = pathlib.Path(sysconfig.get_paths()["purelib"])
(site / "odoo-source.pth").write_text(f"{src}\n")
info = site / f"odoo-{release['serie']}.dist-info"
info.mkdir(exist_ok=True)
(info / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: odoo\nVersion: {release['serie']}\n"
    f"Summary: Odoo source tree at {src}\n")
(info / "INSTALLER").write_text("psa-connector\n")
(info / "RECORD").write_text("")
PY
}

# PostgreSQL: use what answers (PGHOST/PGPORT/PGUSER are honoured); otherwise start
# an existing local cluster, or create one; otherwise say what to install.
ensure_postgres() {
  if psql -d postgres -Atqc 'select 1' >/dev/null 2>&1; then return; fi
  if command -v pg_lsclusters >/dev/null; then
    local version
    version=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')
    if [[ -n "$version" ]]; then
      say "Starting the local PostgreSQL cluster $version/main"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 \
        || sudo -n pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
    elif command -v pg_createcluster >/dev/null; then
      version=$(ls /usr/lib/postgresql | sort -V | tail -1)
      say "Creating a local PostgreSQL cluster $version/main"
      { pg_createcluster "$version" main --start || sudo -n pg_createcluster "$version" main --start; } >/dev/null 2>&1 || true
    fi
    for _ in $(seq 20); do psql -d postgres -Atqc 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if ! psql -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    # A cluster that answers but has no role for us: create one with the postgres superuser.
    if command -v sudo >/dev/null && sudo -n -u postgres psql -Atqc 'select 1' >/dev/null 2>&1; then
      sudo -n -u postgres createuser --superuser "$(id -un)" 2>/dev/null || true
    elif [[ $(id -u) == 0 ]] && su postgres -c "psql -Atqc 'select 1'" >/dev/null 2>&1; then
      su postgres -c "createuser --superuser $(id -un)" 2>/dev/null || true
    fi
  fi
  psql -d postgres -Atqc 'select 1' >/dev/null 2>&1 || die "no PostgreSQL answers and none could be started.
  Install one (Debian/Ubuntu: sudo apt-get install postgresql) and make sure your user
  has a role (sudo -u postgres createuser --superuser \$USER), or point PGHOST/PGPORT/PGUSER at one."
}

site_addons() {
  "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"] + "/odoo/addons")'
}

# write_odoo_conf FILE DB [extra lines...]
write_odoo_conf() {
  local file=$1 db=$2; shift 2
  {
    echo "[options]"
    echo "addons_path = $ODOO_SRC/odoo/addons,$ODOO_SRC/addons,$(site_addons),$ROOT"
    # db_name without dbfilter: Odoo then serves that database without listing all
    # databases on every session-less request (webhooks, job runner calls).
    echo "db_name = $db"
    echo "db_host = ${PGHOST:-False}"
    echo "db_port = ${PGPORT:-False}"
    echo "db_user = ${PGUSER:-False}"
    echo "list_db = False"
    echo "data_dir = $RUN_DIR/data"
    echo "psa_connector_key = ${PSA_CONNECTOR_KEY:-$(dev_key)}"
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

# A per-checkout Fernet key for local runs, kept outside the database (see
# psa_connector_base/README). Production sets psa_connector_key in its own config.
dev_key() {
  local keyfile=$RUN_DIR/connector.key
  [[ -s "$keyfile" ]] || "$VENV/bin/python" -c \
    'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' >"$keyfile"
  cat "$keyfile"
}

SUITE_ADDONS=psa_connector_base,psa_connector_timesheet,psa_connector_billing,psa_connector_forecast,psa_connector_hr,psa_connector_hr_payroll,psa_connector_billing_hr,psa_connector_forecast_hr,psa_connector_crm

# The browser tours (HttpCase.start_tour) drive a headless Chromium; Odoo would skip
# them silently without one, so provide it: apt-get as root, else say what to install.
chromium_binary() {
  local bin
  for bin in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$bin" >/dev/null && { command -v "$bin"; return 0; }
  done
  return 1
}

ensure_chromium() {
  chromium_binary >/dev/null && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "Installing Chromium for the browser tours (apt-get, once)"
    { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; } \
      >"$RUN_DIR/chromium-install.log" 2>&1 \
      || die "could not install Chromium (log: $RUN_DIR/chromium-install.log)"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null && command -v apt-get >/dev/null; then
    say "Installing Chromium for the browser tours (sudo apt-get, once)"
    sudo -n apt-get install -y chromium >"$RUN_DIR/chromium-install.log" 2>&1 \
      || die "could not install Chromium (log: $RUN_DIR/chromium-install.log)"
  fi
  chromium_binary >/dev/null || die "the browser tours need Chromium or Google Chrome.
  Install one (Debian/Ubuntu: sudo apt-get install chromium) and run again."
}

# `make run` serves Odoo behind nginx (Debian's package): apt-get as root, else say what
# to install. Sets NGINX_BIN (Debian keeps it in /usr/sbin, off a user's PATH).
nginx_binary() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }; }

ensure_nginx() {
  if ! nginx_binary >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "Installing nginx, the demo's reverse proxy (apt-get, once)"
    { apt-get -o DPkg::Lock::Timeout=300 install -y nginx-light \
        || { apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y nginx-light; }; } \
      >"$RUN_DIR/nginx-install.log" 2>&1 \
      || die "could not install nginx (log: $RUN_DIR/nginx-install.log)"
  fi
  NGINX_BIN=$(nginx_binary) || die "make run needs nginx as its reverse proxy.
  Install it (Debian/Ubuntu: sudo apt-get install nginx-light) and run again."
}
