"""Self-test steps for media and exports: each media kind is made here, added to a sample
project with Vellum's own ingest and read back with its own readers; each export format is
written from a sample project and read back with Vellum's own readers, and compared."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from app.selftest import Context, Failed, Step
from app.selftest import samples as S

CPU = "CPU"


def _doc(ctx: Context) -> Any:
    """The sample project (made on first use)."""
    if ctx.doc is None:
        from app.core.document import Document

        ctx.doc = Document.create(ctx.folder / "project", name="Vellum self-test")
    return ctx.doc


def _add(ctx: Context, paths: list[Path], kind: str, count: int) -> list[Any]:
    """Add ``paths`` to the sample project; exactly ``count`` items of ``kind`` or a
    failure naming the file and what went wrong."""
    from app.io.ingest import add_media

    report = add_media(_doc(ctx), paths)
    if report.errors:
        raise Failed(str(report.errors[0]))
    added = [m for m in report.added if m.kind.value == kind]
    if len(added) != count:
        names = ", ".join(p.name for p in paths)
        raise Failed(f"Adding {names} gave {len(added)} {kind} item(s) where {count} were "
                     f"expected ({'; '.join(report.notes) or 'no note'}).")
    return added


def check_images(ctx: Context) -> str:
    from app.io.images import read_image

    png, jpg = S.write_images(ctx.folder / "images")
    items = _add(ctx, [png, jpg], "image", 2)
    want = S.image_rgb()
    h, w = want.shape[:2]
    if any((m.width, m.height) != (w, h) for m in items):
        raise Failed(f"The sample images were added as {[(m.width, m.height) for m in items]} "
                     f"pixels, not {w}x{h}.")
    if not np.array_equal(read_image(png), want):
        raise Failed(f"{png} did not read back pixel for pixel.")
    diff = float(np.abs(read_image(jpg).astype(int) - want.astype(int)).mean())
    if diff > 4:
        raise Failed(f"{jpg} read back {diff:.1f} grey levels off on average (JPEG at quality "
                     "95 should be within 4).")
    ctx.media["images"] = items
    return f"PNG exact, JPEG within {diff:.1f} levels; {w}x{h}"


def check_video(ctx: Context) -> str:
    from app.io.video import open_video

    clip = S.write_video(ctx.folder / "video" / "clip.mp4")
    bframes = S.b_frames(clip)
    if bframes == 0:
        raise Failed(f"The H.264 encoder wrote {clip} without B-frames, so decoding order was "
                     "not tested.")
    (item,) = _add(ctx, [clip], "video", 1)
    if item.frames != S.VIDEO_FRAMES:
        raise Failed(f"{clip} was added with {item.frames} frames, not {S.VIDEO_FRAMES}.")
    reader = open_video(clip)
    try:
        order = list(range(S.VIDEO_FRAMES))
        random.Random(7).shuffle(order)
        wrong = [(n, got) for n in order if (got := S.frame_number(reader.frame(n))) != n]
        wrong += [(n, got) for n, rgb in reader.frames()
                  if (got := S.frame_number(rgb)) != n]
        times = np.asarray(reader.timestamps, dtype=float)
    finally:
        reader.close()
    if wrong:
        n, got = wrong[0]
        raise Failed(f"Frame {n} of {clip} decoded as frame {got} ({len(wrong)} frames out of "
                     "place): frame-accurate seeking is broken.")
    if len(times) != S.VIDEO_FRAMES or np.any(np.diff(times) <= 0):
        raise Failed(f"{clip} has timestamps out of order or missing.")
    ctx.media["video"] = item
    return (f"{S.VIDEO_FRAMES} frames ({bframes} B-frames) each found by random seeks and in "
            "sequence")


def _dicom_step(name: str, syntax: str, tag: str) -> Step:
    def check(ctx: Context) -> str:
        import pydicom

        from app.io.volume import load_source

        folder = S.write_dicom_series(ctx.folder / f"dicom-{tag}", syntax, tag)
        first = next(iter(sorted(folder.glob("*.dcm"))))
        written = pydicom.dcmread(first, stop_before_pixels=True).file_meta.TransferSyntaxUID
        if written != syntax:
            raise Failed(f"{first} was written as {written.name}, not {syntax}.")
        (item,) = _add(ctx, [folder], "volume", 1)
        volume = load_source(_doc(ctx).media_path(item), item.source, expected=item.volume)
        want = S.volume_hu()
        if volume.array.shape != want.shape or not np.array_equal(volume.array, want):
            raise Failed(f"The DICOM series in {folder} ({pydicom.uid.UID(syntax).name}) did "
                         "not read back voxel for voxel.")
        ctx.media[f"dicom-{tag}"] = item
        k, j, i = want.shape
        return f"{k} slices of {i}x{j}, {pydicom.uid.UID(syntax).name}, exact HU"

    return Step(name, check, CPU)


def check_nifti(ctx: Context) -> str:
    from app.io.volume import load_source

    path = S.write_nifti(ctx.folder / "nifti" / "volume.nii.gz")
    (item,) = _add(ctx, [path], "volume", 1)
    volume = load_source(_doc(ctx).media_path(item), item.source, expected=item.volume)
    want = S.volume_hu()
    if volume.array.shape != want.shape or not np.array_equal(
            np.sort(volume.array, axis=None), np.sort(want, axis=None)):
        raise Failed(f"{path} did not read back with the voxels written.")
    ctx.media["nifti"] = item
    return f"{'x'.join(str(s) for s in reversed(want.shape))} voxels, spacing kept"


# ------------------------------------------------------------------ exports
def _need(ctx: Context, key: str, what: str) -> Any:
    item = ctx.media.get(key)
    if item is None:
        raise Failed(f"Not checked: it needs the sample {what}, which failed above.")
    return item


def check_coco(ctx: Context) -> str:
    """A project of the two sample photos with a box, a polygon and keypoints-free shapes,
    exported as COCO and imported into a second project: the same shapes come back."""
    from app.core.annotations import Annotation
    from app.core.commands import Put, SetSchema
    from app.core.document import Document
    from app.core.places import Place
    from app.core.schema import LabelClass, LabelSchema
    from app.core.shapes import Box, Polygon
    from app.io.coco import export_coco, import_coco
    from app.io.ingest import add_media

    _need(ctx, "images", "images")
    images = ctx.folder / "images"
    cls = LabelClass("thing", "#e6194b", ("box", "polygon"))
    box = Box(*S.image_box())
    poly = Polygon(((120.0, 80.0), (140.0, 80.0), (136.0, 104.0), (118.0, 100.0)))
    with Document.create(ctx.folder / "coco-source", name="self-test COCO") as doc:
        doc.execute(SetSchema(LabelSchema((cls,)), label="classes"))
        report = add_media(doc, [images])
        if report.errors:
            raise Failed(str(report.errors[0]))
        anns = [Annotation(Place(m.id), shape, cls.id) for m in doc.media()
                for shape in (box, poly)]
        doc.execute(Put(tuple(anns), label="shapes"))
        out = ctx.folder / "exports" / "labels.json"
        written = export_coco(doc, out, images_root=images)
    if written["annotations"] != len(anns):
        raise Failed(f"{out} holds {written['annotations']} annotations where {len(anns)} were "
                     "exported.")
    with Document.create(ctx.folder / "coco-back", name="self-test COCO back") as back:
        report = import_coco(back, out, images)
        shapes = sorted((type(a.shape).__name__, a.shape) for a in back.iter_annotations())
    want = sorted((type(a.shape).__name__, a.shape) for a in anns)
    if report["annotations"] != len(anns) or [k for k, _ in shapes] != [k for k, _ in want]:
        raise Failed(f"{out} read back as {report['annotations']} annotations "
                     f"({', '.join(k for k, _ in shapes)}), not the {len(anns)} written.")
    for (_, got), (_, exp) in zip(shapes, want):
        if got != exp and not _close_shape(got, exp):
            raise Failed(f"{out} read back a shape that moved ({got} instead of {exp}).")
    return f"{len(anns)} shapes on 2 images written and imported back unchanged"


def _close_shape(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    va = np.asarray([v for v in vars(a).values() if isinstance(v, (int, float, tuple))],
                    dtype=object)
    vb = np.asarray([v for v in vars(b).values() if isinstance(v, (int, float, tuple))],
                    dtype=object)
    try:
        return bool(np.allclose(np.asarray(va.tolist(), float), np.asarray(vb.tolist(), float),
                                atol=1e-6))
    except (TypeError, ValueError):
        return False


def check_mot(ctx: Context) -> str:
    """A track with three keyframes on the sample clip, exported as MOT and read back: one
    line per frame, the keyframe boxes exact."""
    from app.core.annotations import Annotation, Track
    from app.core.commands import Put, SetSchema
    from app.core.places import Place
    from app.core.schema import LabelClass
    from app.core.shapes import Box
    from app.io.mot import export_mot, read_mot

    item = _need(ctx, "video", "video")
    doc = _doc(ctx)
    cls = LabelClass("square", "#3cb44b", ("box",))
    doc.execute(SetSchema(doc.schema.with_class(cls), label="classes"))
    track = Track(item.id, cls.id)
    keys = (0, S.VIDEO_FRAMES // 2, S.VIDEO_FRAMES - 1)
    doc.execute(Put((track, *(Annotation(Place(item.id, f), Box(*S.square_box(f)), cls.id,
                                         track_id=track.id) for f in keys)),
                    label="track"))
    out = ctx.folder / "exports" / "mot"
    export_mot(doc, out)
    gt = next(iter(sorted(out.glob("*/gt/gt.txt"))), None)
    if gt is None:
        raise Failed(f"The MOT export wrote no gt/gt.txt under {out}.")
    lines = read_mot(gt)
    frames = sorted(line.frame for line in lines)
    if frames != list(range(S.VIDEO_FRAMES)):
        raise Failed(f"{gt} holds frames {frames[:3]}... ({len(frames)} lines) where every frame "
                     f"0-{S.VIDEO_FRAMES - 1} of the track was expected.")
    by_frame = {line.frame: line.box for line in lines}
    for f in keys:
        if not np.allclose(by_frame[f], S.square_box(f), atol=1e-6):
            raise Failed(f"{gt} read back frame {f} as {by_frame[f]}, not {S.square_box(f)}.")
    return f"{len(lines)} lines read back, keyframe boxes exact"


def check_nifti_export(ctx: Context) -> str:
    """A label map painted on the sample DICOM volume, exported as NIfTI and read back on the
    volume's grid: the same voxels."""
    from app.core.commands import ModifyLabelMap, Put
    from app.core.labelmap import Mode, Segment
    from app.io.volume import read_labelmap_nifti
    from app.io.volume.project import export_nifti, volume_geometry
    from app.tools.volume_segments import new_labelmap

    item = ctx.media.get("dicom-plain") or _need(ctx, "nifti", "volume")
    doc = _doc(ctx)
    info = new_labelmap(item, "Findings", (Segment(1, "blob", "#f58231", None),))
    doc.execute(Put((info,), label="label map"))
    mask = S.blob_mask()
    doc.execute(ModifyLabelMap(info.id, (0, 0, 0), mask, Mode.ADD, 1, label="paint"))
    out = ctx.folder / "exports" / "nifti"
    written = export_nifti(doc, out)
    labels = next((p for p in written if p.name.endswith(".nii.gz")), None)
    if labels is None:
        raise Failed(f"The NIfTI export wrote no label map under {out}.")
    back = read_labelmap_nifti(labels, volume_geometry(doc, item))
    if not np.array_equal(back.labels > 0, mask):
        raise Failed(f"{labels} read back with other voxels than the {int(mask.sum())} "
                     "painted.")
    return f"{int(mask.sum())} voxels and the segment table read back on the volume's grid"


#: Transfer syntax UIDs (as strings: building the list of steps imports no DICOM library).
EXPLICIT_VR_LE, RLE_LOSSLESS, JPEG2000_LOSSLESS = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5",
                                                   "1.2.840.10008.1.2.4.90")


def steps(quick: bool) -> list[Step]:
    return [
        Step("open image (PNG, JPEG)", check_images, CPU),
        Step("open video (H.264, B-frames)", check_video, CPU),
        _dicom_step("open DICOM series", EXPLICIT_VR_LE, "plain"),
        _dicom_step("open DICOM (RLE lossless)", RLE_LOSSLESS, "rle"),
        _dicom_step("open DICOM (JPEG 2000)", JPEG2000_LOSSLESS, "j2k"),
        Step("open NIfTI volume", check_nifti, CPU),
        Step("export COCO, read back", check_coco, CPU),
        Step("export MOT, read back", check_mot, CPU),
        Step("export NIfTI labels, read back", check_nifti_export, CPU),
    ]
