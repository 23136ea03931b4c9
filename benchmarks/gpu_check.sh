#!/usr/bin/env bash
# Checks for a machine with a CUDA GPU, in a few minutes: the GPU tests, then the AIHT update
# benchmark on cuda in float64 and float32. Every part runs even if an earlier one fails.
#
#   bash benchmarks/gpu_check.sh
set -u

cd "$(dirname "$0")/.." || exit 1
PY=.venv/bin/python
status=0

echo "=== venv"
if [ ! -x "$PY" ]; then
  python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' || status=1
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available())'

echo "=== nvidia-smi -L"
nvidia-smi -L || status=1

echo "=== pytest -m gpu"
timeout 180 "$PY" -m pytest -q -m gpu tests
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

echo "=== done (status $status)"
exit "$status"
