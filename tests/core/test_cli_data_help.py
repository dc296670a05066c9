"""The health-check and curate commands document every option."""

from __future__ import annotations

import pytest

from tl_widgets.cli import build_parser


@pytest.mark.parametrize("cmd", [["data"], ["data", "check"], ["curate"]])
def test_help_lists_every_option(cmd, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*cmd, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: tl-widgets" in text
    if cmd == ["curate"]:
        assert all(opt in text for opt in ("--list", "--apply", "--export", "--curation"))
    if cmd == ["data", "check"]:
        assert all(opt in text for opt in ("--json", "--val", "--similarity", "--no-embeddings"))
