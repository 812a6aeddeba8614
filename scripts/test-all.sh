#!/usr/bin/env bash
# Runs every veil test:
#   1. cargo test: veil-core, veil-datafusion, the veil CLI, and the shared .slt suite on
#      in-process DataFusion;
#   2. the same .slt suite on a real PostgreSQL 15 server (a throwaway cluster started here)
#      with the `veil` extension installed;
#   3. the extension's #[pg_test]s via `cargo pgrx test`;
#   4. a short cargo-fuzz run of PII detection + replacement (VEIL_FUZZ_SECONDS, default 30;
#      0 skips it).
# Installs what it needs when missing (Debian): PostgreSQL 15 server and headers, clang,
# sudo, cargo-pgrx 0.18.1, `cargo pgrx init`, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=15
PGRX_VERSION=0.18.1
PG_PORT=${VEIL_TEST_PG_PORT:-54329}

log() { printf '\n==> [%4ds] %s\n' "$SECONDS" "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# --- prerequisites -----------------------------------------------------------------------
missing=()
for p in "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" libclang-dev clang sudo; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
PG_BIN=$("$PG_CONFIG" --bindir)

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  log "installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
if ! grep -qs "^pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG"
fi

# --- 1. Rust tests and .slt on DataFusion ------------------------------------------------
log "cargo test: core, DataFusion functions, CLI, .slt suite on DataFusion, benches"
cargo test
cargo test -p veil-benches

# --- 2. .slt on PostgreSQL ---------------------------------------------------------------
log "installing the veil extension into PostgreSQL $PG_MAJOR"
if is_root; then
  (cd extension && cargo pgrx install --pg-config "$PG_CONFIG")
else
  (cd extension && cargo pgrx install --sudo --pg-config "$PG_CONFIG")
fi

log "starting a throwaway PostgreSQL $PG_MAJOR cluster"
pgtmp=$(mktemp -d /tmp/veil-pg.XXXXXX)
run_pg=()
if is_root; then
  chown postgres "$pgtmp"
  run_pg=(runuser -u postgres --)
fi
stop_pg() {
  "${run_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgtmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgtmp"
}
trap stop_pg EXIT
"${run_pg[@]}" "$PG_BIN/initdb" -D "$pgtmp/data" -A trust -U postgres >/dev/null
"${run_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgtmp/data" -l "$pgtmp/server.log" -w \
  -o "-k $pgtmp -p $PG_PORT -c listen_addresses=''" start >/dev/null
"$PG_BIN/psql" -h "$pgtmp" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE DATABASE veil_slt"
"$PG_BIN/psql" -h "$pgtmp" -p "$PG_PORT" -U postgres -d veil_slt -v ON_ERROR_STOP=1 -q \
  -c "CREATE EXTENSION veil"

log ".slt suite on PostgreSQL $PG_MAJOR"
"${CARGO_TARGET_DIR:-target}/debug/veil-slt" --engine postgres \
  --pg "host=$pgtmp port=$PG_PORT user=postgres dbname=veil_slt"
stop_pg
trap - EXIT

# --- 3. #[pg_test]s ----------------------------------------------------------------------
log "cargo pgrx test pg$PG_MAJOR"
pgrx_data=$(mktemp -d /tmp/veil-pgrx.XXXXXX)
if is_root; then
  chown postgres "$pgrx_data"
  (cd extension && cargo pgrx test "pg$PG_MAJOR" --runas postgres --pgdata "$pgrx_data/data")
else
  (cd extension && cargo pgrx test "pg$PG_MAJOR")
fi
rm -rf "$pgrx_data"

# --- 4. fuzzing ----------------------------------------------------------------------------
FUZZ_SECONDS=${VEIL_FUZZ_SECONDS:-30}
suites=4
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz (once)"
    cargo install cargo-fuzz --version 0.13.2 --locked
  fi
  log "cargo fuzz run pii_detect_replace for ${FUZZ_SECONDS}s (stable toolchain: no sanitizer)"
  # Its own target dir: different RUSTFLAGS would otherwise rebuild the main cache.
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-fuzz" \
    cargo fuzz run -s none pii_detect_replace -- \
      -max_total_time="$FUZZ_SECONDS" -max_len=512 -print_final_stats=1 2>&1 | tail -n 3
  suites=5
fi

log "all veil tests passed"
echo "suites: $suites passed, 0 failed"   # cargo test, slt on DataFusion, slt on PostgreSQL, pgrx, fuzz
