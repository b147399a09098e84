"""parse_yes_no on the answer styles small and large VLMs produce."""

from __future__ import annotations

import pytest

from lightning_csr.evaluation.answers import parse_yes_no


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("yes.", True),
        ("Yes, there is a star in the image.", True),
        ("  YES!", True),
        ("There is a red star in the top left.", True),
        ("The answer is yes.", True),
        ("no.", False),
        ("No, there is no ring in the image.", False),
        ("There is no star.", False),
        ("There are no circles in this picture.", False),
        ("I don't see any star.", False),
        ("The image does not contain a heart.", False),
        ("", None),
        ("...", None),
        ("blue square triangle", None),
        ("I am not sure.", None),
    ],
)
def test_parse_yes_no(text: str, expected: bool | None) -> None:
    assert parse_yes_no(text) is expected
