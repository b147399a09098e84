"""User errors of every command are one line and exit status 2; `--debug` brings the traceback back."""

from __future__ import annotations

import pytest

from lightning_csr.cli import COMMANDS, main
from lightning_csr.commands import user_errors
from lightning_csr.errors import UserError

LIGHTNING_COMMANDS = (
    "fit",
    "validate",
    "test",
)  # their config errors are tested through the CLI in test_fail_fast


@pytest.mark.parametrize("name", [name for name in COMMANDS if name not in LIGHTNING_COMMANDS])
def test_a_bad_option_is_one_line_and_exit_status_2(name, capsys, monkeypatch) -> None:
    monkeypatch.setattr(user_errors, "DEBUG", False)
    with pytest.raises(SystemExit) as exit_info:
        main([*name.split(), "--no-such-option"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"lightning-csr {name}: error: ") and f"`lightning-csr {name} --help`" in line, (
        line
    )


def test_debug_raises_the_user_error_with_its_traceback(monkeypatch) -> None:
    monkeypatch.setattr(user_errors, "DEBUG", False)
    with pytest.raises(UserError, match="unrecognized arguments: --no-such-option"):
        main(
            [
                "--debug",
                "export",
                "--config",
                "c.yaml",
                "--ckpt_path",
                "x.ckpt",
                "--out",
                "o",
                "--no-such-option",
            ]
        )
