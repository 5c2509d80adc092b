"""Shared fixtures: the real daemons from the build tree and helpers to run Python children.

Run by ctest (py.*) with PYTHONPATH=<build>/python and SMEM_BUILD_DIR=<build>; by hand:
    PYTHONPATH=build/python SMEM_BUILD_DIR=build python3 -m pytest -q python/tests
"""
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

BUILD_DIR = os.environ.get("SMEM_BUILD_DIR", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name):
    path = os.path.join(BUILD_DIR, name)
    if not BUILD_DIR or not os.access(path, os.X_OK):
        pytest.fail(f"{name} not found: set SMEM_BUILD_DIR to the build directory (have {BUILD_DIR!r})")
    return path


class Daemon:
    """A real daemon process that prints one ready line on stdout."""

    def __init__(self, argv, ready_prefix, env=None, timeout=20):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.ready = self._wait_line(ready_prefix, timeout)

    def _wait_line(self, prefix, timeout):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = ""
        import time
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not sel.select(timeout=0.2):
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            buf += line
            if line.startswith(prefix):
                return line.strip()
        self.stop()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        pytest.fail(f"{self.proc.args[0]} did not get ready: stdout {buf!r} stderr {err[-2000:]!r}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Meta:
    """mmc-meta from the build tree on loopback ephemeral ports."""

    def __init__(self):
        self.daemon = Daemon([binary("mmc-meta"), "--meta-url", "tcp://127.0.0.1:0", "--store-url",
                              "tcp://127.0.0.1:0", "--metrics-url", "", "--log-level", "error"], "mmc-meta ready")
        m = re.search(r"rpc (\S+) store (\S+)", self.daemon.ready)
        self.rpc_url, self.store_url = m.group(1), m.group(2)

    def local_config(self, **kw):
        from memcache_hybrid import LocalConfig
        args = dict(meta_service_url=self.rpc_url, config_store_url=self.store_url, dram_size=64 << 20,
                    max_dram_size=64 << 20, world_size=16)
        args.update(kw)
        return LocalConfig(**args)

    def config_text(self, dram="64MB"):
        return (f"ock.mmc.meta_service_url = {self.rpc_url}\n"
                f"ock.mmc.local_service.config_store_url = {self.store_url}\n"
                f"ock.mmc.local_service.world_size = 16\n"
                f"ock.mmc.local_service.dram.size = {dram}\n"
                f"ock.mmc.local_service.max.dram.size = 64MB\n")

    def stop(self):
        return self.daemon.stop()


@pytest.fixture(scope="session")
def meta():
    m = Meta()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def store(meta):
    """This process's LocalService + client, on the session's mmc-meta."""
    from memcache_hybrid import DistributedObjectStore
    s = DistributedObjectStore()
    assert s.setup(meta.local_config()) == 0
    assert s.init(0) == 0, __import__("memcache_hybrid").get_last_err_msg()
    yield s
    s.close()


def run_py(code, timeout=60, env=None, check=True, args=()):
    """Run code in a fresh interpreter (same PYTHONPATH); returns the CompletedProcess."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        pytest.fail(f"child failed ({p.returncode}):\nstdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    return p


def spawn_py(code, env=None):
    """Start code in a fresh interpreter with pipes to its stdin/stdout (line protocols)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=e)
