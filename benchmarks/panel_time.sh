#!/usr/bin/env bash
# Whole-process time of a Figure 1 panel (imports, every point, tables and figures), both methods,
# with the points' own wall_s from results.csv: a sweep's throughput.
#
#   benchmarks/panel_time.sh                 # reduced: s in 1 10 100, seed 0; AIHT m in 1 10 100, IMP m in 1 10
#   PANEL=full benchmarks/panel_time.sh      # Figure 1's whole one-hidden-layer AIHT panel (300 points)
#   benchmarks/panel_time.sh --trainer.accelerator gpu      # extra flags go to the CLI
#
# Environment: PYTHON (default .venv/bin/python), PANEL (reduced or full), METHODS (default "aiht imp").
# After the table, on stderr: each panel's points' wall_s summed by s (where a panel's time goes).
set -u

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-.venv/bin/python}
PANEL=${PANEL:-reduced}
METHODS=${METHODS:-"aiht imp"}
if [ "$PANEL" = full ]; then
  METHODS=${METHODS/imp/}
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "python: $PYTHON, cores: $(getconf _NPROCESSORS_ONLN), load: $(cut -d' ' -f1-3 /proc/loadavg), panel: $PANEL"
echo
echo "| panel | points | whole process s | sum of points' wall_s | mean wall_s | outside the points s |"
echo "|---|---:|---:|---:|---:|---:|"
for method in $METHODS; do
  dir="$tmp/$method"
  grid=(--sweep.slist 1 10 100 --sweep.seedlist 0 --sweep.mlist 1 10)
  [ "$method" = aiht ] && grid+=(100)
  [ "$PANEL" = full ] && grid=()
  start=$(date +%s.%N)
  "$PYTHON" cli.py fit --config configs/figure1.yaml --sweep.method "$method" --sweep.num_layers 1 \
    "${grid[@]}" --trainer.default_root_dir "$dir" --trainer.enable_progress_bar false "$@" >"$dir.log" 2>&1
  end=$(date +%s.%N)
  "$PYTHON" - "$dir/results.csv" "$method" "$start" "$end" <<'PY'
import csv
import sys

path, method, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
try:
    rows = list(csv.DictReader(open(path)))
except FileNotFoundError:
    print(f"| {method} hidden1 | no results.csv (see its log) | | | | |")
    sys.exit()
walls = [float(r["wall_s"]) for r in rows]
whole = end - start
print(f"| {method} hidden1 | {len(rows)} | {whole:.1f} | {sum(walls):.1f} | {sum(walls) / len(walls):.3f} | "
      f"{whole - sum(walls):.1f} |")
by_s = {}
for r in rows:
    by_s[int(r["s"])] = by_s.get(int(r["s"]), 0.0) + float(r["wall_s"])
print("  " + method + ": the points' wall_s summed by s: " + ", ".join(f"s={s} {t:.1f} s" for s, t in sorted(by_s.items())),
      file=sys.stderr)
PY
done
