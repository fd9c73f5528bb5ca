#!/usr/bin/env bash
# The main job side by side with the engines a data team would use for the same question, in one
# run, as ratios: DuckDB, polars (streaming) and pandas doing a day × model groupby of the same
# Dify messages export, and the raw single-thread CSV parse (`csv::ByteRecord`, the floor).
#
#   bash benches/run.sh [ROWS]        (default 1,000,000 Dify message rows, ~490 MB)
#
# Needs: python3, hyperfine, GNU time. DuckDB, polars and pandas (+ pyarrow) are installed with pip
# into a venv under target/ on first use; a baseline that cannot be installed is skipped with a
# message. RUNS=N sets the timed runs per command (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
dir=${BENCH_DIR:-/tmp/llm-recon-bench-$rows}
venv=${BENCH_VENV:-target/bench-venv}
[ -f "$dir/messages.csv" ] || python3 benches/gen_month.py "$dir" "$rows"
cargo build --release --locked --quiet --bin llm-recon --example csv_floor
bin=target/release/llm-recon
floor=target/release/examples/csv_floor

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || echo "(no venv: the Python baselines are skipped)"
fi
py="$venv/bin/python"
have() { [ -x "$py" ] && "$py" -c "import $1" 2>/dev/null; }
for pkg in duckdb polars pandas pyarrow; do
  have "$pkg" || "$py" -m pip install --quiet "$pkg" >/dev/null 2>&1 || true
done

csv="$dir/messages.csv"
names=(llm-recon csv-floor)
cmds=("$bin reconcile $csv $dir/usage_completions.json --format json" "$floor $csv")
add() { names+=("$1"); cmds+=("$2"); }
if have duckdb; then add duckdb "$py benches/duckdb_baseline.py $csv"; else echo "(duckdb not installed: skipped)"; fi
if have polars; then add polars-streaming "$py benches/polars_baseline.py $csv"; else echo "(polars not installed: skipped)"; fi
if have pandas; then
  add pandas-plain "$py benches/pandas_baseline.py $csv"
  add pandas-usecols "$py benches/pandas_baseline.py $csv --usecols"
else
  echo "(pandas not installed: skipped)"
fi

ls -l "$csv"
echo "== peak memory and CPU (one run each)"
for i in "${!cmds[@]}"; do
  /usr/bin/time -f "%M KiB peak  %e s wall  %U+%S s cpu  ${names[$i]}" ${cmds[$i]} > /dev/null
done

echo "== wall time"
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
json=$(mktemp)
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$json" "${args[@]}"

echo "== ratios (mean wall time; CPU = user + system)"
python3 - "$json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours, floor, duck = res["llm-recon"], res["csv-floor"], res.get("duckdb")
cpu = lambda r: r["user"] + r["system"]
print(f"{'command':<18}{'wall s':>8}{'cpu s':>8}{'wall / duckdb':>15}{'llm-recon / it':>16}")
for name, r in res.items():
    vs_duck = f"{r['mean'] / duck['mean']:.2f}" if duck else "-"
    print(f"{name:<18}{r['mean']:>8.2f}{cpu(r):>8.2f}{vs_duck:>15}{ours['mean'] / r['mean']:>16.2f}")
print(f"llm-recon CPU / single-thread ByteRecord pass CPU: {cpu(ours) / cpu(floor):.2f}")
PY
rm -f "$json"
