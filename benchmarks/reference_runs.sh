#!/usr/bin/env bash
# Runs the reference sweeps whose results must not change when only speed changes: the quickstart,
# a reduced Figure 1 grid (AIHT at both depths; IMP at both depths on n=2000 inputs), a small
# Figure 2 grid (vector outputs, minibatches; both methods and depths, n=5000, 3 epochs), and the
# quickstart's first two points on two worker processes, each into its own folder under OUT.
#
#   benchmarks/reference_runs.sh OUT            # then: python benchmarks/compare_results.py OLD NEW
#
# Run it once on the old code and once on the new (each checkout's own copy of the project), into two
# folders, and compare them. Environment: PYTHON (default .venv/bin/python). About 4 minutes on 2 cores.
set -eu

out=${1:?usage: benchmarks/reference_runs.sh OUT}
out=$(mkdir -p "$out" && cd "$out" && pwd)
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
TIMEFORMAT='%R s'

run() {  # run NAME FLAGS...: one sweep into OUT/NAME (after the flags: a config names its own), its log beside it
  local name=$1
  shift
  echo -n "$name: "
  { time "$PYTHON" cli.py fit "$@" --trainer.enable_progress_bar false --sweep.overwrite true \
      --trainer.default_root_dir "$out/$name" >"$out/$name.log" 2>&1; } 2>&1
}

grid=(--sweep.mlist 1 10 100 --sweep.slist 1 10 100 --sweep.seedlist 0)
run quickstart --config configs/quickstart.yaml
run fig1_aiht --config configs/figure1.yaml --sweep.method aiht "${grid[@]}"
run fig1_imp --config configs/figure1.yaml --sweep.method imp --sweep.mlist 1 2 10 --sweep.slist 1 10 \
  --sweep.seedlist 0 --data.init_args.nmeasurements 2000
run fig2_small --config configs/figure2.yaml --sweep.mlist 2 10 --sweep.slist 10 50 --sweep.seedlist 0 \
  --trainer.max_epochs 3 --data.init_args.nmeasurements 5000 --data.init_args.batch_size 1000
run quickstart_workers --config configs/quickstart.yaml --sweep.mlist 5 --sweep.slist 10 50 \
  --sweep.seedlist 0 --sweep.workers 2
