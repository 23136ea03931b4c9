"""Runs a test inside a private network namespace that has only the loopback interface, so that
Ray, which binds to the machine's network interface by default, keeps all its traffic on
127.0.0.1. A decorated test re-runs itself there (``unshare -n``, in a pytest subprocess) unless
it already is; it is skipped with the reason when no such namespace can be made."""

import functools
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSIDE = "SPARSE_MLP_PRIVATE_NETWORK"
TIMEOUT_S = 900


def only_loopback() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@functools.cache
def unshare_command() -> list[str] | str:
    """The ``unshare`` prefix that works here (as root, or through a user namespace), or why none."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2) for a private network namespace"
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return "unshare -n is not permitted here (needs root or user namespaces): Ray tests keep off the network"


def in_private_network(test):
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if os.environ.get(INSIDE) == "1":
            assert only_loopback(), "the private network namespace has more than the loopback interface"
            return test(*args, **kwargs)
        prefix = unshare_command()
        if isinstance(prefix, str):
            pytest.skip(prefix)
        node = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        inner = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "--tb=short",
            "--show-capture=no",
            "-p",
            "no:cacheprovider",
            node,
        ]
        command = [*prefix, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *inner]
        env = {**os.environ, INSIDE: "1"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        if done.returncode != 0:  # pytest's report is on stdout, the run's logs on stderr
            report = done.stdout if done.stdout.strip() else done.stderr
            pytest.fail(f"in the private network namespace:\n{report[-12000:]}", pytrace=False)
        if " passed" not in done.stdout:
            pytest.skip(f"in the private network namespace: {done.stdout.strip().splitlines()[-1]}")

    return wrapper
