#!/usr/bin/env bash
# Throughput benchmark of the main job against the pandas baseline, side by side on this machine.
#   bash benches/run.sh [ROWS]     (default 1,000,000 Dify message rows)
# Needs: python3 (+ pandas for the baseline: pip install pandas), hyperfine, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
dir=${BENCH_DIR:-/tmp/llm-recon-bench-$rows}
[ -f "$dir/messages.csv" ] || python3 benches/gen_month.py "$dir" "$rows"
cargo build --release --locked --quiet
bin=target/release/llm-recon
ls -l "$dir/messages.csv"
echo "== peak memory (max RSS, KiB)"
for cmd in "$bin reconcile $dir/messages.csv $dir/usage_completions.json --format json" \
           "python3 benches/pandas_baseline.py $dir/messages.csv" \
           "python3 benches/pandas_baseline.py $dir/messages.csv --usecols" \
           "python3 benches/pandas_baseline.py $dir/messages.csv --no-pyarrow"; do
  /usr/bin/time -f "%M KiB  %e s  $cmd" $cmd > /dev/null
done
echo "== wall time"
hyperfine --warmup 1 --runs ${RUNS:-5} \
  -n llm-recon "$bin reconcile $dir/messages.csv $dir/usage_completions.json --format json" \
  -n pandas-plain "python3 benches/pandas_baseline.py $dir/messages.csv" \
  -n pandas-usecols "python3 benches/pandas_baseline.py $dir/messages.csv --usecols" \
  -n pandas-plain-no-pyarrow "python3 benches/pandas_baseline.py $dir/messages.csv --no-pyarrow"
