#!/bin/bash
# DP aggregates against PostgreSQL's own count/sum/avg over 10,000,000 rows, in one run,
# with parallel workers allowed (max_parallel_workers_per_gather = 2). Needs a database
# with the veil extension, reached through psql's usual variables or a connection string:
#
#   benches/pg/dp_aggregates.sh "host=/tmp port=5432 user=postgres dbname=veil_bench" [runs]
#
# Install the extension built with --release (`cargo pgrx install --release`): a debug build
# is many times slower. Creates (once) the table veil_bench_t(x float8, g int); prints a
# markdown table of median times and DP / exact ratios. Grants the session user a large budget (needs a role allowed
# to call veil_budget_grant).
set -euo pipefail
CONN=${1:-}
RUNS=${2:-7}
psql_() { psql -X -q -v ON_ERROR_STOP=1 ${CONN:+"$CONN"} "$@"; }

psql_ <<'SQL'
SELECT veil_budget_grant(veil_principal(), 1e12, 0.001);
DO $$
BEGIN
  IF to_regclass('veil_bench_t') IS NULL THEN
    CREATE TABLE veil_bench_t AS
      SELECT (random() * 1000)::float8 AS x, (random() * 999)::int AS g
      FROM generate_series(1, 10000000);
    ANALYZE veil_bench_t;
  END IF;
END $$;
SQL

# Median wall time (ms) of a query over $RUNS runs, after one warm-up run.
median() {
  local sql=$1
  # veil_principal() loads the library, so the parse hook adds partition selection.
  local script="SELECT veil_principal(); SET max_parallel_workers_per_gather = 2; SET veil.delta = 0.000001; \\timing on"
  local i
  script+=$'\n'"$sql;"
  for ((i = 0; i < RUNS; i++)); do script+=$'\n'"$sql;"; done
  psql_ -A -t <<<"$script" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n +2 | sort -n |
    awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

workers() {
  psql_ -A -t -c "SELECT veil_principal()" -c "SET max_parallel_workers_per_gather = 2" -c "SET veil.delta = 0.000001" -c "EXPLAIN $1" |
    sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' | head -1
}

echo "| query | exact | DP | DP / exact | parallel workers (exact / DP) |"
echo "|---|---:|---:|---:|---|"
row() {
  local label=$1 exact=$2 dp=$3
  local te td
  te=$(median "$exact")
  td=$(median "$dp")
  printf '| %s | %.1f ms | %.1f ms | %.2f× | %s / %s |\n' "$label" "$te" "$td" \
    "$(awk -v a="$td" -v b="$te" 'BEGIN { print a / b }')" "$(workers "$exact" || true)" "$(workers "$dp" || true)"
}
row '`count(x)` / `dp_count(x, 1.0)`' "SELECT count(x) FROM veil_bench_t" "SELECT dp_count(x, 1.0) FROM veil_bench_t"
row '`sum(x)` / `dp_sum(x, 0, 1000, 1.0)`' "SELECT sum(x) FROM veil_bench_t" "SELECT dp_sum(x, 0, 1000, 1.0) FROM veil_bench_t"
row '`avg(x)` / `dp_mean(x, 0, 1000, 1.0)`' "SELECT avg(x) FROM veil_bench_t" "SELECT dp_mean(x, 0, 1000, 1.0) FROM veil_bench_t"
row '… `GROUP BY g` (1,000 groups): count' "SELECT g, count(x) FROM veil_bench_t GROUP BY g" "SELECT g, dp_count(x, 1.0) FROM veil_bench_t GROUP BY g"
row '… sum' "SELECT g, sum(x) FROM veil_bench_t GROUP BY g" "SELECT g, dp_sum(x, 0, 1000, 1.0) FROM veil_bench_t GROUP BY g"
row '… mean' "SELECT g, avg(x) FROM veil_bench_t GROUP BY g" "SELECT g, dp_mean(x, 0, 1000, 1.0) FROM veil_bench_t GROUP BY g"
