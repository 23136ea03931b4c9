#!/usr/bin/env bash
# The project's cost on top of Lightning: the whole process of Figure 1's m=100, s=100 AIHT point
# against a bare `python -c "import pytorch_lightning"`, measured side by side in PAIRS pairs (the
# order alternating, so that neither always runs on a warmer cache), then the median gap.
#
#   benchmarks/startup_gap.sh [extra CLI flags]
#
# Environment: PYTHON (default .venv/bin/python), PAIRS (default 6).
set -u

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-.venv/bin/python}
PAIRS=${PAIRS:-6}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TIMEFORMAT='%R'

bare() { { time "$PYTHON" -c "import pytorch_lightning"; } 2>&1; }
point() {
  rm -rf "$tmp/run"
  { time "$PYTHON" cli.py fit --config configs/figure1.yaml --sweep.method aiht --sweep.num_layers 1 \
      --sweep.mlist 100 --sweep.slist 100 --sweep.seedlist 0 --trainer.default_root_dir "$tmp/run" \
      --trainer.enable_progress_bar false "$@" >"$tmp/log" 2>&1; } 2>&1
}

echo "python: $PYTHON, cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
gaps=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then
    a=$(bare); b=$(point "$@")
  else
    b=$(point "$@"); a=$(bare)
  fi
  gap=$("$PYTHON" -c "print(f'{$b - $a:.2f}')")
  gaps+=("$gap")
  metric=$("$PYTHON" -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f\"{rows[0]['metric_name']} {float(rows[0]['metric']):.4f}, point wall {rows[0]['wall_s']} s\")
" "$tmp/run/results.csv" 2>/dev/null || echo "no results.csv")
  echo "pair $i: import ${a} s, point ${b} s, gap ${gap} s ($metric)"
done
"$PYTHON" -c "
import statistics, sys
gaps = [float(g) for g in sys.argv[1:]]
print(f'median gap {statistics.median(gaps):.2f} s over {len(gaps)} pairs (goal <= 2 s); max {max(gaps):.2f} s')
" "${gaps[@]}"
exit 0
