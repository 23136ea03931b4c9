#!/usr/bin/env bash
# One point of each real-data panel that MNIST serves (binary MNIST, 10-class MNIST, INR MNIST; AIHT
# and IMP), run one after another through the CLI on the real MNIST test set, with reduced per-class
# counts (700 training + 150 test images per digit). Each whole command is timed with
# /usr/bin/time -v; the script prints the metric of the point's result.json, its wall_s, the
# command's wall time and peak RSS, and the load average before it.
#
#   benchmarks/real_mnist_points.sh                       # all six points
#   POINTS="binary_aiht mnist_imp" benchmarks/real_mnist_points.sh
#
# Environment: PYTHON (default .venv/bin/python), MNIST_T10K (the folder with the two t10k-*.gz
# files, default /work/shared/data/mnist-t10k), DATA (where the torchvision folder is laid out, once,
# default /tmp/realmnist), OUT (default /tmp/rd; point NAME runs in $OUT/NAME), POINTS.
set -u

cd "$(dirname "$0")/.." || exit 1
PYTHON=${PYTHON:-.venv/bin/python}
MNIST_T10K=${MNIST_T10K:-/work/shared/data/mnist-t10k}
DATA=${DATA:-/tmp/realmnist}
OUT=${OUT:-/tmp/rd}
POINTS=${POINTS:-"binary_aiht binary_imp mnist_aiht mnist_imp inr_aiht inr_imp"}

# torchvision's MNIST folder whose training files are copies of the test files: with 700 + 150 per
# digit both splits come from the first copy (every digit has at least 892 images there).
raw="$DATA/MNIST/raw"
if [ ! -f "$raw/train-labels-idx1-ubyte" ]; then
  (cd "$MNIST_T10K" && md5sum -c --quiet - <<'EOF') || { echo "md5 mismatch in $MNIST_T10K" >&2; exit 1; }
9fb629c4189551a2d022fa330f9573f3  t10k-images-idx3-ubyte.gz
ec29112dd5afa0611ce80d1b7f02629c  t10k-labels-idx1-ubyte.gz
EOF
  mkdir -p "$raw"
  for kind in images-idx3 labels-idx1; do
    gunzip -c "$MNIST_T10K/t10k-$kind-ubyte.gz" >"$raw/t10k-$kind-ubyte"
    cp "$raw/t10k-$kind-ubyte" "$raw/train-$kind-ubyte"
  done
fi

common=(--sweep.seedlist 0 --sweep.overwrite true --data.data_dir "$DATA" --data.download false
  --data.train_per_class 700 --data.test_per_class 150 --trainer.enable_progress_bar false)
# Figure 3's binary panels are the config's base settings (15 epochs, batch 1000); its 10-class
# panels' overrides are given as flags (50 epochs, batch 5000, cross-entropy).
binary=(--config configs/figure3.yaml --sweep.panels null)
mnist=(--config configs/figure3.yaml --sweep.panels null --data datamodules.mnist.MNISTDataModule
  --data.batch_size 5000 --trainer.max_epochs 50 --model.loss crossentropy)
# Figure 4's one-hidden-layer panels (100 full-batch epochs); image 150 of the 10-class test split is,
# with 150 test images per digit, the first test image of digit 1, as image 1000 is with the paper's 1000.
inr=(--config configs/figure4.yaml --sweep.num_layers 1 --data.image_index 150)

mkdir -p "$OUT"
for name in $POINTS; do
  case $name in
    binary_aiht) args=("${binary[@]}" --sweep.method aiht --sweep.mlist 50 --sweep.slist 20) ;;
    binary_imp) args=("${binary[@]}" --sweep.method imp --sweep.mlist 50 --sweep.slist 20) ;;
    mnist_aiht) args=("${mnist[@]}" --sweep.method aiht --sweep.mlist 100 --sweep.slist 500) ;;
    mnist_imp) args=("${mnist[@]}" --sweep.method imp --sweep.mlist 100 --sweep.slist 500) ;;
    inr_aiht) args=("${inr[@]}" --sweep.method aiht --sweep.mlist 50 --sweep.slist 50) ;;
    inr_imp) args=("${inr[@]}" --sweep.method imp --sweep.mlist 50 --sweep.slist 50) ;;
    *) echo "unknown point $name (binary_aiht binary_imp mnist_aiht mnist_imp inr_aiht inr_imp)" >&2; exit 1 ;;
  esac
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v "$PYTHON" cli.py fit "${args[@]}" "${common[@]}" --trainer.default_root_dir "$OUT/$name" \
    >"$OUT/$name.log" 2>&1
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$name.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$name.log")
  result=$(find "$OUT/$name" -name result.json | head -n 1)
  if [ -z "$result" ]; then
    echo "$name: no result.json; last lines of $OUT/$name.log:"
    tail -n 15 "$OUT/$name.log" | sed 's/^/    /'
    continue
  fi
  "$PYTHON" - "$result" "$name" "$wall" "$rss" "$load" <<'EOF'
import json
import sys

path, name, wall, rss, load = sys.argv[1:]
r = json.load(open(path))
print(
    f"{name}: {r['task']} {r['method']} m={r['m']} s={r['s']} seed={r['seed']} "
    f"epochs={r['epochs']} batch={r['batch_size']}: {r['metric_name']}={r['metric']:.4f} "
    f"({r['status']}, point wall_s {r['wall_s']}); command {wall} wall, peak RSS {int(rss) / 1024:.0f} MiB; "
    f"load before {load}"
)
EOF
done
