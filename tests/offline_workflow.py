"""A full headless workflow under a Python audit hook that records every network attempt.
Usage: python offline_workflow.py WORKDIR IMAGES_DIR [DATA_DIR]. With DATA_DIR (../shared/data)
the workflow also adds a video and a DICOM study and exports MOT and NIfTI. ``--control``
opens one socket first, to prove the hook sees it. Prints NETWORK-EVENTS: [...] last."""

from __future__ import annotations

import sys

EVENTS: list[str] = []
NETWORK = ("socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "webbrowser.")


def hook(event: str, args: tuple) -> None:
    if event.startswith(NETWORK):
        EVENTS.append(f"{event} {args!r:.120}")


sys.addaudithook(hook)

import os  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    if "--control" in sys.argv:
        import socket

        socket.socket().close()
        print("NETWORK-EVENTS:", EVENTS)
        return
    work, images = Path(sys.argv[1]), sys.argv[2]
    data = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    from app.cli import main as vellum

    proj = str(work / "proj")
    assert vellum(["new", proj]) == 0
    assert vellum(["add", proj, images]) == 0
    from app.core.places import Place
    from app.core.annotations import Annotation
    from app.core.commands import Put
    from app.core.document import Document
    from app.core.shapes import Box

    with Document.open(proj) as doc:
        m = doc.media()[0]
        doc.execute(Put((Annotation(place=Place(m.id), shape=Box(1, 2, 3, 4)),)))
    assert vellum(["export", "coco", proj, str(work / "out.json")]) == 0
    assert vellum(["new", str(work / "again")]) == 0
    assert vellum(["import", "coco", str(work / "again"), str(work / "out.json"),
                   "--images", images]) == 0
    assert vellum(["validate", proj]) == 0
    assert vellum(["info", proj]) == 0
    if data is not None:
        import shutil

        shutil.copy(data / "video" / "cfr_h264_bframes.mp4", work / "clip.mp4")
        assert vellum(["add", proj, str(work / "clip.mp4"),
                       str(data / "dicom" / "philips_phantom_study" / "S2010")]) == 0
        assert vellum(["video", "info", str(work / "clip.mp4"), "--json"]) == 0
        assert vellum(["video", "frame", str(work / "clip.mp4"), "7", "-o",
                       str(work / "f7.png")]) == 0
        assert vellum(["volume", "info", str(data / "dicom" / "philips_phantom_study"),
                       "--json"]) == 0
        assert vellum(["export", "mot", proj, str(work / "mot")]) == 0
    if os.environ.get("VELLUM_OFFLINE_GUI"):
        from app.widgets.app import build_window_for_test  # type: ignore[attr-defined]

        build_window_for_test(proj)
    print("NETWORK-EVENTS:", EVENTS)


if __name__ == "__main__":
    main()
