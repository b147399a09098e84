"""The numeric code paths a build's stage workers are pinned to, the check that the pin took, and its record.

Torch picks its CPU kernels when it first runs one: ATen's vectorised kernels by the CPU's widest SIMD
(AVX2 or AVX-512), MKL's GEMM by vendor and ISA, oneDNN's convolutions by ISA. Different kernels round
differently, and a few thousand training steps turn that into different models. A stage worker therefore
starts with `PINNED_ENV` in its environment, before torch is imported, and checks that the pin took.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# MKL's AVX2 branch on Intel CPUs; elsewhere MKL documents that it runs AUTO instead (its own pick for the
# CPU, with fixed cache sizes). COMPATIBLE, the one branch MKL documents as the same on Intel and AMD CPUs,
# made the build 1.8 times slower. The thread count cannot matter anyway: every worker runs on one thread.
MKL_BRANCH = "AVX2,STRICT"
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": MKL_BRANCH,
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_DYNAMIC": "FALSE",
    "MKL_DYNAMIC": "FALSE",
}
UNPIN_VARIABLE = "LIGHTNING_CSR_UNPINNED_KERNELS"


class PinError(RuntimeError):
    """A stage worker does not run the pinned kernels; the message says which and what to do."""


def pin_disabled() -> bool:
    """Whether the user turned the pin off (`LIGHTNING_CSR_UNPINNED_KERNELS=1`)."""
    return os.environ.get(UNPIN_VARIABLE, "") not in ("", "0")


def pin_key() -> dict[str, str] | str:
    """What the model stages' stamps hash for the pin: its environment, or `unpinned`."""
    return "unpinned" if pin_disabled() else dict(PINNED_ENV)


@contextlib.contextmanager
def pinned_environment() -> Iterator[None]:
    """`PINNED_ENV` in os.environ (what a process started now inherits); the old values come back after."""
    env = {} if pin_disabled() else PINNED_ENV
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _stdout_text(sink: list[str]) -> Iterator[None]:
    """Capture what C code writes to file descriptor 1 (MKL's and oneDNN's verbose lines) into `sink`."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            sink.append(capture.read().decode(errors="replace"))


def _kernels_in_use() -> dict[str, str]:
    """ATen's capability, MKL's CNR mode and oneDNN's ISA, read from one small GEMM and convolution."""
    import torch

    text: list[str] = []
    with _stdout_text(text):
        with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
            torch.ones(8, 8) @ torch.ones(8, 8)
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            torch.nn.functional.conv2d(torch.ones(2, 3, 16, 16), torch.ones(4, 3, 4, 4), stride=4)
    mkl = re.search(r"CNR:(\S+)", text[0])
    isa = re.search(r"onednn_verbose,.*,isa:([^\n]+)", text[0])
    return {
        "aten": torch.backends.cpu.get_cpu_capability(),
        "mkl_cnr": mkl.group(1) if mkl else "unknown (no MKL verbose line)",
        "onednn_isa": isa.group(1).strip() if isa else "unknown (no oneDNN verbose line)",
    }


def expected_kernels(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """What a pinned worker runs on this CPU (MKL names its branch AUTO off Intel CPUs)."""
    intel = _cpu_fields(cpuinfo).get("vendor_id") == "GenuineIntel"
    mkl = MKL_BRANCH if intel or MKL_BRANCH.startswith("COMPATIBLE") else re.sub(r"^\w+", "AUTO", MKL_BRANCH)
    return {"aten": "AVX2", "mkl_cnr": mkl, "onednn_isa": "Intel AVX2"}


def check_pinned() -> dict[str, str]:
    """In a stage worker: one torch thread and the pinned kernels, or PinError; returns what runs."""
    import torch

    torch.set_num_threads(1)
    in_use = _kernels_in_use()
    if pin_disabled():
        return in_use
    expected = expected_kernels()
    wrong = [f"{k} runs {in_use[k]!r}, not {v!r}" for k, v in expected.items() if in_use[k] != v]
    if wrong:
        raise PinError(
            f"the stage worker's numeric code paths are not the pinned ones ({'; '.join(wrong)}; the pin "
            f"is {' '.join(f'{k}={v}' for k, v in PINNED_ENV.items())}): this CPU may lack AVX2 or this "
            f"torch may not read these variables. Set {UNPIN_VARIABLE}=1 to build anyway; the models then "
            "depend on this CPU and the README's numbers may not be reproduced."
        )
    return in_use


def _cpu_fields(cpuinfo: str) -> dict[str, str]:
    """The `key: value` fields of /proc/cpuinfo (the last CPU's), or {} where there is none."""
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name, vendor and widest SIMD (from /proc/cpuinfo), or what `platform` knows."""
    import platform

    fields = _cpu_fields(cpuinfo)
    if not fields:
        return platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    name = fields.get("model name", platform.machine())
    return f"{name} ({fields.get('vendor_id', 'unknown vendor')}, {simd})"


def library_versions() -> dict[str, str]:
    """torch's version and, from its build configuration, MKL's and oneDNN's."""
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version (.+?) for ", config)
    onednn = re.search(r"MKL-DNN (v\S+)", config)
    return {
        "torch": torch.__version__,
        "mkl": mkl.group(1) if mkl else "none",
        "onednn": onednn.group(1) if onednn else "none",
    }


def kernel_record(in_use: dict[str, str]) -> dict[str, Any]:
    """What a stage's stamp and the card record: libraries, CPU, kernels in use, the pin and the threads."""
    import torch

    return {
        **library_versions(),
        "cpu": cpu_model(),
        "kernels": in_use,
        "pin": pin_key(),
        "threads_per_worker": torch.get_num_threads(),
    }
