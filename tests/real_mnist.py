"""Real MNIST digits for tests: the shared MNIST test set laid out as torchvision's MNIST folder.

``/work/shared/data/mnist-t10k/`` (or ``$REAL_MNIST_DIR``) holds the real test files
``t10k-{images-idx3,labels-idx1}-ubyte.gz``. ``real_mnist_root`` writes them, unpacked, into
``<tmp>/MNIST/raw`` both as the test files and as the training files, so the project's reader
(torchvision's train file, then its test file) sees 20000 real images. With per-class counts that
fit one copy (every digit has at least 892 images there; e.g. 700 training + 150 test), both
splits come from the first copy and never share an image. A test that needs the files skips
cleanly where they are absent; nothing is ever copied into the repository.
"""

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("REAL_MNIST_DIR", "/work/shared/data/mnist-t10k"))
MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# The files torchvision's MNIST reads, and the shared file each one is unpacked from.
LAYOUT = {
    "train-images-idx3-ubyte": "t10k-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte": "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte": "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte": "t10k-labels-idx1-ubyte.gz",
}


def shared_files_present() -> bool:
    return all((SHARED / name).is_file() for name in MD5)


def real_mnist_root(tmp_path: Path) -> Path:
    """A data_dir holding real MNIST digits in torchvision's layout; skips the test without them."""
    if not shared_files_present():
        pytest.skip(f"the real MNIST test files are not in {SHARED}")
    for name, md5 in MD5.items():
        if hashlib.md5((SHARED / name).read_bytes()).hexdigest() != md5:
            pytest.fail(f"{SHARED / name} does not have the md5 its README gives ({md5})")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for target, source in LAYOUT.items():
        with gzip.open(SHARED / source, "rb") as packed, open(raw / target, "wb") as out:
            shutil.copyfileobj(packed, out)
    return tmp_path
