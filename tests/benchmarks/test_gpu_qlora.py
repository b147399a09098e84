"""`benchmarks/gpu_qlora.py` without CUDA: it says so and exits 0, writing nothing."""

from __future__ import annotations

import pytest
import torch

from tests.paths import REPO


def test_exits_cleanly_without_cuda(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    import gpu_qlora

    out = tmp_path / "gpu_qlora.json"
    assert gpu_qlora.main(["--out", str(out)]) == 0
    assert "no CUDA device" in capsys.readouterr().out
    assert not out.exists()


def test_unknown_model_is_a_clear_error(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    import gpu_qlora

    with pytest.raises(SystemExit):
        gpu_qlora.main(["--models", "llava,gpt5"])
