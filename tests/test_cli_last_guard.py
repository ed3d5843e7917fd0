"""The CLI's last guard: an error no reader turned into a sentence still prints one sentence
naming the command's files (and, unless it is a plain OS error, that it is Vellum's bug), never
a traceback; --debug shows the traceback. The fuzz suite counts these sentences as failures."""

from __future__ import annotations

import pytest

import app.cli as cli


def _boom(exc):
    def run(args):
        raise exc
    return run


@pytest.mark.parametrize("exc, words", [
    (ValueError("w2 should be positive"), ["unexpected ValueError", "bug in Vellum"]),
    (RecursionError("maximum recursion depth exceeded"), ["RecursionError", "bug in Vellum"]),
    (PermissionError(13, "Permission denied", "/srv/x.png"), ["/srv/x.png", "Permission denied"]),
    (MemoryError(), ["not enough memory"]),
])
def test_unexpected_errors_are_one_sentence(tmp_path, monkeypatch, capsys, exc, words):
    image = tmp_path / "x.png"
    image.write_bytes(b"not really")
    monkeypatch.setattr(cli, "cmd_info", _boom(exc))
    code = cli.main(["info", str(image)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("vellum: error: ")
    for w in words:
        assert w in err
    if not isinstance(exc, (PermissionError, MemoryError)):
        assert str(image) in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "cmd_info", _boom(ValueError("boom")))
    with pytest.raises(ValueError):
        cli.main(["--debug", "info", str(tmp_path)])
