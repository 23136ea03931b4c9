#!/usr/bin/env bash
# Checks for a machine with a CUDA GPU, in about six minutes: CuPy (the extra for torch's CUDA,
# installed if missing), the GPU tests (the CuPy-draw tests among them), the AIHT update
# benchmark on cuda in float64 and float32, single Figure-1 points (AIHT and IMP) through the CLI,
# a Figure 2 point, and as much of Figure 1's one-hidden-layer AIHT panel (seed 0) as fits in
# PANEL_SECONDS (0 skips it).
# Every part runs even if an earlier one fails.
#
#   bash benchmarks/gpu_check.sh                  # uses .venv/bin/python, or python3 if no venv
#   PY=python3 PYTHONPATH=. bash benchmarks/gpu_check.sh
set -u

cd "$(dirname "$0")/.." || exit 1
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH=".:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
PANEL_SECONDS=${PANEL_SECONDS:-120}
status=0
GPU=(--trainer.accelerator gpu --trainer.devices 1)

echo "=== environment"
"$PY" -c 'import torch, pytorch_lightning as pl; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), "lightning", pl.__version__)'
nvidia-smi -L || status=1

echo "=== CuPy, for --sweep.draws cupy and its tests"
if ! "$PY" -c "import cupy" 2>/dev/null; then
  extra=$("$PY" -c "from datamodules.cupy_draws import cupy_extra; print(cupy_extra())")
  echo "not installed: pip install -e '.[$extra]'"
  "$PY" -m pip install -q -e ".[$extra]" || { echo "CuPy could not be installed: its tests are skipped"; status=1; }
fi
"$PY" -c 'import cupy; print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())' \
  || status=1

echo "=== pytest -m gpu"
timeout 420 "$PY" -m pytest -q -m gpu tests -p no:cacheprovider
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "(no gpu tests collected)"
elif [ "$rc" -ne 0 ]; then
  echo "pytest exit code $rc"
  status=1
fi

for dtype in float64 float32; do
  echo "=== aiht_update.py --device cuda --dtype $dtype"
  timeout 60 "$PY" benchmarks/aiht_update.py --device cuda --dtype "$dtype" || status=1
done

echo "=== vector_selection_memory.py --device cuda"
timeout 120 "$PY" benchmarks/vector_selection_memory.py --device cuda --widths 200 2000 || status=1

echo "=== single points on the GPU"
PYTHON="$PY" timeout 120 bash benchmarks/single_points.sh "${GPU[@]}" || status=1
METHOD=imp POINTS="100:100:50" PYTHON="$PY" timeout 120 bash benchmarks/single_points.sh "${GPU[@]}" || status=1

echo "=== Figure 2 point m=20 s=200 seed 0 (vector outputs) on the GPU"
CONFIG=configs/figure2.yaml POINTS="20:200:30" PYTHON="$PY" timeout 150 bash benchmarks/single_points.sh "${GPU[@]}" \
  || status=1

if [ "$PANEL_SECONDS" -gt 0 ]; then
  echo "=== Figure 1, AIHT, one hidden layer, seed 0, on the GPU (at most ${PANEL_SECONDS} s)"
  panel=$(mktemp -d)
  start=$(date +%s)
  timeout "$PANEL_SECONDS" "$PY" cli.py fit --config configs/figure1.yaml --sweep.method aiht \
    --sweep.num_layers 1 --sweep.seedlist 0 --trainer.default_root_dir "$panel" \
    --trainer.enable_progress_bar false "${GPU[@]}" >"$panel.log" 2>&1
  echo "exit $? after $(( $(date +%s) - start )) s; points done: $(find "$panel" -name result.json | wc -l) of 100"
  tail -n 3 "$panel.log"
fi

echo "=== done (status $status)"
exit "$status"
