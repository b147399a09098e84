"""The build's numeric code paths: pinned in every stage worker, recorded, and independent of `--threads`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lightning_csr.cli import main
from lightning_csr.evaluation.progress import NullProgress
from lightning_csr.shapeworld.build import kernel_pin
from lightning_csr.shapeworld.build.builder import Builder
from lightning_csr.shapeworld.build.prepare import model_jobs, prepare
from lightning_csr.shapeworld.build.settings import tiny_settings
from lightning_csr.shapeworld.build.stages import PrepareError, StageRunner
from lightning_csr.shapeworld.build.workers import StageJob, StageWorkers

MODEL_FILES = ["vision/model.safetensors", "base_model/model.safetensors", "clip/model.safetensors"]
MODEL_STAGES = ["vision", "base_model", "clip", "evaluate_base", "evaluate_clip"]


def _metrics(root: Path, name: str) -> dict:
    return json.loads((root / "metrics" / f"{name}.json").read_text())["metrics"]


def test_one_and_two_stage_workers_build_the_same_bytes(prepared, tmp_path: Path, monkeypatch) -> None:
    one_worker, _ = prepared
    two = tmp_path / "two"
    events: list[tuple[str, str]] = []

    class Recorder(NullProgress):
        def event(self, stage: str, what: str) -> None:
            events.append((stage, what))

    # the caller's own kernel variables must not reach the workers (or change the build)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("MKL_CBWR", "AUTO")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    prepare(two, tiny_settings(), progress=Recorder(), workers=2)
    assert ("clip", "started (stage worker 2)") in events  # CLIP beside the base VLM's SFT
    for name in MODEL_FILES:
        assert (two / name).read_bytes() == (one_worker / name).read_bytes(), name
    assert _metrics(two, "base") == _metrics(one_worker, "base")
    assert _metrics(two, "clip") == _metrics(one_worker, "clip")
    base_outputs = "metrics/base_outputs.jsonl"
    assert (two / base_outputs).read_text() == (one_worker / base_outputs).read_text()
    expected = kernel_pin.expected_kernels()
    for stage in MODEL_STAGES:
        numerics = json.loads((two / ".stamps" / f"{stage}.json").read_text())["info"]["numerics"]
        assert numerics["kernels"] == expected and numerics["threads_per_worker"] == 1
        assert numerics["pin"] == kernel_pin.PINNED_ENV and numerics["torch"]
    assert kernel_pin.os.environ["ATEN_CPU_CAPABILITY"] == "default"  # the caller's own, back
    card = (two / "card.md").read_text()
    assert "## Numeric code paths" in card and "up to 2 at once" in card
    kernels = " / ".join(expected[k] for k in ("aten", "mkl_cnr", "onednn_isa"))
    assert f"| kernels in use (ATen / MKL CNR / oneDNN) | {kernels} |" in card


def test_a_worker_on_other_kernels_is_rejected(prepared, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "data"
    shutil.copytree(prepared[0], out)
    settings = tiny_settings()
    settings.clip.max_steps = 2
    before = (out / "clip" / "model.safetensors").read_bytes()
    # what a torch that ignored the variable, or a CPU without AVX2, would run: ATen's plain C++ kernels
    monkeypatch.setitem(kernel_pin.PINNED_ENV, "ATEN_CPU_CAPABILITY", "default")
    with pytest.raises(PrepareError, match="aten runs 'DEFAULT', not 'AVX2'.*UNPINNED_KERNELS=1"):
        prepare(out, settings)
    assert (out / "clip" / "model.safetensors").read_bytes() == before


def test_a_worker_that_fails_its_pin_before_any_stage_fails_the_build(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(kernel_pin.PINNED_ENV, "ATEN_CPU_CAPABILITY", "default")
    workers = StageWorkers(tmp_path, None, tiny_settings(), Builder, NullProgress(), limit=1)
    workers.start()
    workers.processes[0].join(timeout=120)  # gone before `run` hands it a stage
    with pytest.raises(PrepareError, match="a stage worker failed in stage worker 1: PinError"):
        workers.run([StageJob("vision", ["x"], ["vision"])], StageRunner(tmp_path))


class DrawingBuilder(Builder):
    """Two stages that draw from torch's global generator without seeding it."""

    def first(self, temp: Path) -> dict:
        import torch

        (temp / f"{self.draws}.json").write_text(json.dumps(torch.rand(3).tolist()))
        self.draws += 1
        return {}

    second = first
    draws = 0


def test_a_stage_draws_the_same_numbers_whatever_ran_before_in_its_worker(tmp_path: Path) -> None:
    jobs = [StageJob("first", [1], ["0.json"]), StageJob("second", [2], ["1.json"], ("first",))]
    workers = StageWorkers(tmp_path, None, tiny_settings(), DrawingBuilder, NullProgress(), limit=1)
    workers.run(jobs, StageRunner(tmp_path))  # both in one worker, one after the other
    assert (tmp_path / "0.json").read_text() == (tmp_path / "1.json").read_text()


def test_an_unpinned_build_is_another_build(monkeypatch) -> None:
    pinned = {job.name: job.inputs for job in model_jobs(tiny_settings(), "scenes", "sft", "processor")}
    monkeypatch.setenv(kernel_pin.UNPIN_VARIABLE, "1")
    monkeypatch.delenv("MKL_CBWR", raising=False)
    assert kernel_pin.pin_key() == "unpinned"
    with kernel_pin.pinned_environment():  # the workers then start with the caller's environment
        assert "MKL_CBWR" not in kernel_pin.os.environ
    unpinned = {job.name: job.inputs for job in model_jobs(tiny_settings(), "scenes", "sft", "processor")}
    assert sorted(unpinned) == sorted(MODEL_STAGES)
    assert all(unpinned[name] != pinned[name] for name in MODEL_STAGES)


def test_cpu_model_and_the_mkl_branch_it_runs(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon X\nflags\t\t: fpu sse2 avx avx2 fma\n"
    )
    assert kernel_pin.cpu_model(str(cpuinfo)) == "Xeon X (GenuineIntel, AVX2)"
    assert kernel_pin.expected_kernels(str(cpuinfo))["mkl_cnr"] == kernel_pin.MKL_BRANCH
    cpuinfo.write_text("vendor_id: AuthenticAMD\nmodel name: EPYC\nflags: avx2 avx512f\n")
    assert kernel_pin.cpu_model(str(cpuinfo)) == "EPYC (AuthenticAMD, AVX-512)"
    # MKL runs its AVX2 branch on Intel CPUs only, and says AUTO elsewhere
    assert kernel_pin.expected_kernels(str(cpuinfo))["mkl_cnr"] == "AUTO,STRICT"


def test_threads_sets_the_stage_workers(monkeypatch, tmp_path: Path) -> None:
    seen: dict = {}
    monkeypatch.setattr(
        "lightning_csr.shapeworld.build.prepare.prepare",
        lambda out, settings, world, progress, workers: seen.update(workers=workers),
    )
    main(["shapeworld", "prepare", "--out", str(tmp_path), "--scale", "tiny", "--quiet", "--threads", "3"])
    assert seen == {"workers": 3}
