#!/usr/bin/env bash
# Whole-process wall time of the CLI for single Figure-1 points (METHOD, default aiht; seed 0), each in its own
# fresh folder, followed by the metric its results.csv records.
#
#   benchmarks/single_points.sh [extra CLI flags, e.g. --trainer.accelerator gpu]
#
# Environment: PYTHON (default .venv/bin/python), CONFIG (default configs/figure1.yaml), METHOD,
# POINTS (default "100:100:10 1000:10:15", each m:s:goal_seconds).
set -u

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-.venv/bin/python}
CONFIG=${CONFIG:-configs/figure1.yaml}
POINTS=${POINTS:-"100:100:10 1000:10:15"}
METHOD=${METHOD:-aiht}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TIMEFORMAT='%R'

echo "python: $PYTHON ($("$PYTHON" -c 'import torch; print("torch", torch.__version__)'))"
echo "config: $CONFIG, cores: $(nproc)"

for point in $POINTS; do
  IFS=: read -r m s goal <<<"$point"
  dir="$tmp/m${m}_s${s}"
  wall=$( { time "$PYTHON" cli.py fit --config "$CONFIG" --sweep.method "$METHOD" --sweep.num_layers 1 \
      --sweep.mlist "$m" --sweep.slist "$s" --sweep.seedlist 0 --sweep.overwrite true \
      --trainer.default_root_dir "$dir" --trainer.enable_progress_bar false "$@" \
      >"$dir.log" 2>&1; } 2>&1 )
  echo "m=$m s=$s: ${wall} s whole process (goal <= ${goal} s)"
  if [ -f "$dir/results.csv" ]; then
    "$PYTHON" - "$dir/results.csv" <<'EOF'
import csv
import sys

for row in csv.DictReader(open(sys.argv[1])):
    print(f"  m={row['m']} s={row['s']}: {row['metric_name']} = {row['metric']}", end=" ")
    print(f"(status {row['status']}, point wall {row['wall_s']} s)")
EOF
  else
    echo "  no results.csv; last lines of the log:"
    tail -n 15 "$dir.log" | sed 's/^/    /'
  fi
done
exit 0
