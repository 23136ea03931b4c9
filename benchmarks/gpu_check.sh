#!/usr/bin/env bash
# The checks for a machine with a CUDA GPU, in one step and about 8 minutes, ending with a table
# (check | result | figure): a Figure 1 point on CUDA equal to the CPU run, the same point with
# CuPy's draws, compact storage on CUDA equal to dense, two points on one GPU through Ray, a sweep
# over two GPUs where there are two, the CUDA memory benchmark and the `gpu` tests
# (benchmarks/gpu_check.py says what each one checks).
#
#   bash benchmarks/gpu_check.sh                        # .venv/bin/python, or python3 without a venv
#   PY=python3 WHEELS=.whl bash benchmarks/gpu_check.sh  # no network there: wheels carried in .whl
#
# First it installs what is missing (the project's requirements, the CuPy extra for torch's CUDA,
# the Ray extra): from PyPI, or from the folder WHEELS names. Without a CUDA GPU it stops at once
# with a FAIL line and exit status 2; a failed check gives exit status 1.
set -u

cd "$(dirname "$0")/.." || exit 1
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH=".:${PYTHONPATH:-}" PYTHONUNBUFFERED=1

echo "=== environment"
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda",
torch.version.cuda, "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())' || exit 2
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  nvidia-smi -L 2>&1 | head -n 3
  echo "FAIL: no CUDA GPU here (torch.cuda.is_available() is False): the GPU checks need one; nothing was checked"
  exit 2
fi
nvidia-smi -L

echo "=== requirements (the project's, the CuPy extra for torch's CUDA, the Ray extra)"
missing=$("$PY" - <<'EOF'
import importlib.metadata
import re
import tomllib

import torch

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
major = (torch.version.cuda or "13").split(".")[0]
extras = project["optional-dependencies"]
wanted = project["dependencies"] + extras["cupy" if major == "13" else f"cupy-cuda{major}"] + extras["ray"]
for requirement in wanted:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        print(requirement)
EOF
)
if [ -n "$missing" ]; then
  echo "missing: $(echo "$missing" | tr '\n' ' ')"
  mapfile -t requirements <<<"$missing"
  if [ -n "${WHEELS:-}" ]; then
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" "${requirements[@]}"
  else
    "$PY" -m pip install -q --retries 1 --timeout 20 "${requirements[@]}"
  fi || echo "FAIL: could not install them (no network? carry wheels and set WHEELS): the checks that need them fail"
fi
"$PY" -c 'import cupy; print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())' \
  || echo "FAIL: CuPy does not import: the CuPy checks fail"

echo "=== checks"
"$PY" benchmarks/gpu_check.py
