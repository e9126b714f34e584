#!/usr/bin/env bash
# `make wheels`: build every addon as a wheel `odoo-addon-psa_connector_<name>` with
# OCA's whool (per-addon pyproject.toml) into dist/.
#
#   bash scripts/wheels.sh            # build into dist/
#   bash scripts/wheels.sh --check    # build, pip-install the wheels into a scratch
#                                     # venv and install the addons from its
#                                     # site-packages into a scratch database
#
# whool takes the version from the manifest and adds a post-release number (the
# commits since the manifest's version last changed), as OCA's own wheels do.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WHOOL_VERSION=1.3.1
DIST=${DIST:-$ROOT/dist}
TOOLS=$PSA_HOME/whool-$WHOOL_VERSION
if [[ ! -f "$TOOLS/.complete" ]]; then
  say "Installing whool $WHOOL_VERSION into $TOOLS"
  rm -rf "$TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "whool==$WHOOL_VERSION"
  touch "$TOOLS/.complete"
fi

mkdir -p "$DIST"
rm -f "$DIST"/odoo_addon_psa_connector_*.whl
for addon in ${SUITE_ADDONS//,/ }; do
  "$TOOLS/bin/pip" wheel -q --no-deps --no-build-isolation --disable-pip-version-check \
    -w "$DIST" "$ROOT/$addon" 2>&1 | { grep -v '^WARNING: Location' || true; }
done
say "Built into $DIST:"
ls -1 "$DIST"/odoo_addon_psa_connector_*.whl >&2

[[ "${1:-}" == --check ]] || exit 0

# A scratch venv that sees the project venv's packages (Odoo, queue_job, requests...)
# without copying them: a .pth line that adds the project venv's site-packages as a
# site dir (so its own .pth, the Odoo source, is honoured too).
ensure_venv
ensure_postgres
SCRATCH=$RUN_DIR/wheel-venv
DB=${TEST_DB:-psa_test}_wheels
rm -rf "$SCRATCH"
"$PYTHON" -m venv "$SCRATCH"
base_site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
site=$("$SCRATCH/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('$base_site')" >"$site/psa-project-venv.pth"
say "pip install of the wheels into $SCRATCH"
"$SCRATCH/bin/pip" install -q --no-index --disable-pip-version-check "$DIST"/odoo_addon_psa_connector_*.whl
"$SCRATCH/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -i 'odoo-addon' >&2

# The addons path names only Odoo's own directories, not this checkout: Odoo finds
# pip-installed addons by itself (odoo.addons spans every odoo/addons on sys.path).
conf=$RUN_DIR/wheels.conf
log=$RUN_DIR/wheels-install.log
write_odoo_conf "$conf" "$DB" "workers = 0"
sed -i "s|^addons_path = .*|addons_path = $ODOO_SRC/odoo/addons,$ODOO_SRC/addons|" "$conf"
dropdb --if-exists "$DB" >/dev/null
rm -rf "$RUN_DIR/data/filestore/$DB"
say "Installing the suite from the wheels into $DB"
"$SCRATCH/bin/python" "$ODOO_SRC/odoo-bin" -c "$conf" -d "$DB" -i "$SUITE_ADDONS" --without-demo=all \
  --stop-after-init --log-level=warn >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "install from wheels failed"; }
if grep -qE ' (ERROR|CRITICAL) ' "$log"; then
  grep -E ' (ERROR|CRITICAL) ' -A 10 "$log" | head -n 60 >&2
  die "the suite installed from wheels with errors (full log: $log)"
fi
# Where Odoo found each addon, and that it is installed.
"$SCRATCH/bin/python" "$ODOO_SRC/odoo-bin" shell -c "$conf" -d "$DB" --no-http --log-level=warn 2>/dev/null <<PY | tee "$RUN_DIR/wheels-check.txt" >&2
import odoo.modules
bad = 0
for name in "$SUITE_ADDONS".split(","):
    path = odoo.modules.get_module_path(name)
    state = env["ir.module.module"].search([("name", "=", name)]).state
    ok = path.startswith("$site/") and state == "installed"
    bad += not ok
    print(("ok  " if ok else "BAD ") + name + " " + state + " from " + path)
print("WHEELS-CHECK", "FAILED" if bad else "PASSED")
PY
grep -q 'WHEELS-CHECK PASSED' "$RUN_DIR/wheels-check.txt" || die "addons not installed from the wheels"
dropdb --if-exists "$DB" >/dev/null
