"""Nothing opens a socket while importing a model, segmenting and tracking: the CLI runs in a
network namespace without interfaces (``unshare -n``, where permitted) with a Python audit hook
recording every ``socket.*`` event."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from test_inference_tiny_models import sam_vit_pack, zip_folder

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"

SCRIPT = r"""
import json, sys
events = []
sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
from pathlib import Path
import numpy as np
from app import cli
from app.inference import commands

job = json.loads(sys.argv[1])
try:
    from app.io.video import open_video  # noqa: F401  the project's decoder
    decoder = "app.io.video"
except ImportError:  # a temporary local decode for this test only
    import av

    class Reader:
        def __init__(self, path):
            with av.open(path) as c:
                self.f = [x.to_ndarray(format="rgb24") for x in c.decode(video=0)]
            self.frame_count = len(self.f)

        def frames(self, start, stop, step=1):
            for n in range(start, stop, step):
                yield n, self.f[n]

    commands.open_video = Reader
    decoder = "PyAV (test-local)"
codes = [cli.main(["models", "import", p]) for p in job["imports"]]
codes.append(cli.main(["segment", job["image"], "--model", "tiny-sam", "--box", "10", "12",
                       "40", "30", "-o", job["mask"]]))
for tracker in job["trackers"]:
    codes.append(cli.main(["track", job["video"], "--model", tracker, "--box", "8", "8", "16",
                           "16", "--start", "0", "--json"]))
seen = list(events)
import socket  # the control: the hook does see a socket being made
socket.socket().close()
Path(job["result"]).write_text(json.dumps({"codes": codes, "events": seen,
                                           "control": events[len(seen):], "decoder": decoder}))
"""


def _video(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for n in range(12):
            rgb = np.full((64, 96, 3), 40, np.uint8)
            cv2.rectangle(rgb, (8 + 3 * n, 8 + n), (23 + 3 * n, 23 + n), (250, 200, 30), -1)
            cv2.circle(rgb, (16 + 3 * n, 16 + n), 3, (20, 60, 200), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("isolated", [True, False], ids=["unshare-n", "audit-hook-only"])
def test_import_segment_and_track_open_no_socket(tmp_path, isolated):
    if isolated and not _namespace_works():
        pytest.skip("creating a network namespace (unshare -n) is not permitted here")
    imports = [str(zip_folder(sam_vit_pack(tmp_path / "pack"), tmp_path / "t.vellum-models"))]
    trackers = ["classical"]
    if (SHARED_MODELS / "nanotrack" / "v2").is_dir():
        imports.append(str(SHARED_MODELS / "nanotrack" / "v2"))
        trackers.append("nanotrack-v2")
    image = tmp_path / "img.png"
    cv2.imwrite(str(image), np.random.default_rng(1).integers(0, 255, (64, 80, 3), np.uint8))
    _video(tmp_path / "clip.mp4")
    job = {"imports": imports, "image": str(image), "mask": str(tmp_path / "mask.png"),
           "video": str(tmp_path / "clip.mp4"), "trackers": trackers,
           "result": str(tmp_path / "result.json")}
    command = [sys.executable, "-c", SCRIPT, json.dumps(job)]
    if isolated:
        command = ["unshare", "-n", *command]
    env = {"VELLUM_MODELS_DIR": str(tmp_path / "models"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["codes"] == [0] * (len(imports) + 1 + len(trackers)), done.stderr
    assert result["events"] == [], f"sockets touched: {sorted(set(result['events']))}"
    assert "socket.__new__" in result["control"], "the audit hook works"
    frames = [json.loads(line)["frames"] for line in done.stdout.splitlines() if line.startswith("{")]
    assert [len(f) for f in frames] == [12] * len(trackers)
    assert all(abs(f[-1]["box"][0] - (8 + 33)) < 6 for f in frames), frames[0][-1]
