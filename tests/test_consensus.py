"""``vellum consensus``: three annotators' projects with known disagreements fused into a new
project - weighted box fusion equal to a direct numpy implementation of the published formula,
STAPLE and multi-label STAPLE equal to SimpleITK's filters run here, majority votes, flags -
and the output rules (a new project only; inputs and media untouched)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from factories import image_item, make_schema, write_image

from app.cli import main
from app.core.annotations import Annotation
from app.core.commands import ModifyLabelMap, Put, SetSchema
from app.core.document import Document
from app.core.geometry import VolumeGeometry
from app.core.labelmap import LabelMapInfo, Mode, Segment
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.rle import decode, encode
from app.core.shapes import Box, Mask, Polygon, Tag
from app.io import consensus as cs

W = H = 100
NAMES = ("ann_a", "ann_b", "ann_c")


def _project(tmp: Path, name: str) -> Document:
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    items = [image_item(write_image(doc.folder / f, W, H, seed=s), doc, n)
             for n, (f, s) in enumerate({"one.png": 1, "two.png": 2}.items())]
    doc.execute(Put(tuple(items)))
    return doc


def _put(doc: Document, media: str, cls: str, shape, **kw) -> None:
    m = next(x for x in doc.media() if x.name == media)
    doc.execute(Put((Annotation(place=Place(m.id), class_id=doc.schema.class_by_name(cls).id,
                                shape=shape, **kw),)))


# one.png: boxes. Cluster 1 drawn by all (C calls it a road; colours red, red, blue; B's box
# from a model with score 0.6), cluster 2 by A and B only, a box by C alone (dropped).
BOX1 = [Box(10, 10, 20, 20), Box(12, 10, 20, 20), Box(11, 12, 18, 20)]
BOX1_CLS = ["car", "car", "road"]
BOX1_COLOUR = ["red", "red", "blue"]
BOX1_SCORE = [None, 0.6, None]
BOX2 = [Box(60, 60, 20, 20), Box(61, 61, 20, 20)]
LONE = Box(40, 5, 10, 10)
# one.png: polygons, the middle one (B's) is the medoid
POLY = [Polygon(((10, 50), (40, 50), (40, 80), (10, 80))),
        Polygon(((12, 50), (42, 50), (42, 80), (12, 80))),
        Polygon(((14, 50), (44, 50), (44, 82), (14, 82)))]
# two.png: three masks of a road, differing at their edges
_MASKS = []
for _n, (_r0, _c0) in enumerate(((20, 20), (22, 20), (20, 25))):
    _m = np.zeros((H, W), bool)
    _m[_r0:_r0 + 40, _c0:_c0 + 30] = True
    _MASKS.append(_m)


@pytest.fixture
def three(tmp_path):
    docs = [_project(tmp_path, n) for n in NAMES]
    for r, doc in enumerate(docs):
        kw = {} if BOX1_SCORE[r] is None else {"source": "detector", "score": BOX1_SCORE[r]}
        _put(doc, "one.png", BOX1_CLS[r], BOX1[r],
             attributes={"colour": BOX1_COLOUR[r]}, **kw)
        if r < 2:
            _put(doc, "one.png", "car", BOX2[r])
            _put(doc, "two.png", "weather", Tag())
        else:
            _put(doc, "one.png", "car", LONE)
        _put(doc, "one.png", "road", POLY[r])
        _put(doc, "two.png", "road", Mask(encode(_MASKS[r])))
    paths = [str(d.folder) for d in docs]
    for d in docs:
        d.close()
    return paths


def _digest(folder: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).iterdir()) if p.is_file()}


def _fused(path: Path) -> dict[str, list[Annotation]]:
    with Document.open(path) as doc:
        cname = {c.id: c.name for c in doc.schema.classes}
        out: dict[str, list[Annotation]] = {}
        for m in doc.media():
            for a in doc.annotations(m.id, all_frames=True):
                out.setdefault(m.name, []).append((cname.get(a.class_id), a))
        return out


# ------------------------------------------------------------------ the rules, one by one
def _wbf_reference(boxes, scores, n):
    """Solovyev et al. 2021, eq. (1)-(2): X = sum(C_i X_i) / sum(C_i) on corners; C = mean
    C_i, rescaled by min(T, N) / N."""
    xyxy = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in boxes], float)
    c = np.array(scores, float)
    fused = (xyxy * c[:, None]).sum(0) / c.sum()
    return fused, c.mean() * min(len(c), n) / n


def test_wbf_equals_the_published_formula():
    rng = np.random.default_rng(3)
    for _ in range(20):
        k = int(rng.integers(1, 5))
        boxes = [tuple(rng.uniform(0, 50, 2)) + tuple(rng.uniform(1, 30, 2)) for _ in range(k)]
        scores = list(rng.uniform(0.1, 1.0, k))
        (x, y, w, h), conf = cs.wbf(boxes, scores, 4)
        ref, ref_conf = _wbf_reference(boxes, scores, 4)
        assert np.allclose([x, y, x + w, y + h], ref) and conf == pytest.approx(ref_conf)


def test_majority_vote_and_its_tie_rule():
    assert cs.vote(["car", "road", "car"]) == ("car", 2)
    assert cs.vote(["road", "car"]) == ("road", 1)  # a tie: the earliest annotator's value
    assert cs.vote(["b", "a", "a", "b"]) == ("b", 2)
    assert cs.vote([1, True, 1]) == (1, 2)  # 1 and True stay apart
    assert [cs.majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_staple_equals_simpleitk():
    import SimpleITK as sitk

    fused, sens, spec, converged = cs.staple(_MASKS)
    f = sitk.STAPLEImageFilter()
    f.SetForegroundValue(1.0)
    f.SetMaximumIterations(cs.MAX_ITERATIONS)
    prob = sitk.GetArrayFromImage(f.Execute([sitk.GetImageFromArray(m.astype(np.uint8))
                                             for m in _MASKS]))
    assert np.array_equal(fused, prob >= 0.5)
    assert sens == pytest.approx(list(f.GetSensitivity()))
    assert spec == pytest.approx(list(f.GetSpecificity()))
    assert converged and f.GetElapsedIterations() < cs.MAX_ITERATIONS


def test_medoid_is_the_member_closest_to_the_others():
    ious = np.array([[1, .5, .2], [.5, 1, .6], [.2, .6, 1]])
    assert cs.medoid(ious) == 1
    assert cs.medoid(np.array([[1, .5], [.5, 1]])) == 0  # a tie: the first


# ------------------------------------------------------------------ the fused project
def test_consensus_of_three_projects(three, tmp_path):
    before = [_digest(p) for p in three]
    media = (Path(three[1]) / "one.png").read_bytes()
    out = tmp_path / "merged"
    r = cs.consensus(three, out)
    assert [_digest(p) for p in three] == before  # inputs untouched
    assert (Path(three[1]) / "one.png").read_bytes() == media
    assert r["annotators"] == list(NAMES) and r["media"] == {"fused": 2, "partial": []}
    got = _fused(out)
    one = got["one.png"]
    boxes = [(c, a) for c, a in one if a.shape.kind == "box"]
    assert len(boxes) == 2  # C's lone box has no majority
    # cluster 1: WBF of the three boxes, scores 1, 0.6, 1; class and colour by majority
    (c1, a1), = [(c, a) for c, a in boxes if a.attributes["consensus"]["agree"] == 3]
    ref, conf = _wbf_reference([b.bbox() for b in BOX1], [1.0, 0.6, 1.0], 3)
    x, y, w, h = a1.shape.bbox()
    assert np.allclose([x, y, x + w, y + h], ref) and a1.score == pytest.approx(conf)
    assert c1 == "car" and a1.attributes["colour"] == "red" and a1.source == "consensus"
    flags = a1.attributes["consensus"]["flags"]
    assert a1.attributes["consensus"]["review"] and any("class: car 2, road 1" in f
                                                        for f in flags)
    assert any(f.startswith("attribute colour: red 2, blue 1") for f in flags)
    # cluster 2: two of three, kept and flagged, WBF with equal weights
    (c2, a2), = [(c, a) for c, a in boxes if a.attributes["consensus"]["agree"] == 2]
    ref2, _ = _wbf_reference([b.bbox() for b in BOX2], [1, 1], 3)
    x, y, w, h = a2.shape.bbox()
    assert np.allclose([x, y, x + w, y + h], ref2)
    assert a2.attributes["consensus"]["of"] == 3 and "drawn by 2 of 3" in \
        a2.attributes["consensus"]["flags"][0]
    assert a2.score == pytest.approx(2 / 3)
    # polygons: the medoid, B's, unanimous
    (cp, ap), = [(c, a) for c, a in one if a.shape.kind == "polygon"]
    assert cp == "road" and ap.shape == POLY[1]
    assert ap.attributes["consensus"]["agree"] == 3
    # masks: STAPLE of the three; tags: 2 of 3 kept and flagged
    two = got["two.png"]
    (cm, am), = [(c, a) for c, a in two if a.shape.kind == "mask"]
    assert cm == "road" and np.array_equal(decode(am.shape.rle), cs.staple(_MASKS)[0])
    (ct, at), = [(c, a) for c, a in two if a.shape.kind == "tag"]
    assert ct == "weather" and at.attributes["consensus"]["agree"] == 2
    # the flag list: the dropped box, cluster 1, cluster 2, the tag
    assert r["objects"] == {"kept": 4, "dropped": 1}
    dropped = [f for f in r["flags"] if not f["kept"]]
    assert len(dropped) == 1 and dropped[0]["agree"] == 1 and dropped[0]["kind"] == "box"
    kinds = sorted((f["kind"], f["agree"]) for f in r["flags"] if f["kept"])
    assert kinds == [("box", 2), ("box", 3), ("tag", 2)]
    # media referenced by absolute path, not copied
    with Document.open(out) as doc:
        assert all(Path(m.path).is_absolute() and doc.media_path(m).is_file()
                   for m in doc.media())
    assert not list(out.glob("*.png"))
    with Document.open(out) as doc:  # both items have flags: left for review
        assert {m.status.value for m in doc.media()} == {"needs_review"}


def test_iou_and_flag_below_thresholds(three, tmp_path):
    # a strict flag threshold flags the polygons and masks too
    r = cs.consensus(three, tmp_path / "strict", flag_below=0.99)
    kinds = {f["kind"] for f in r["flags"]}
    assert {"polygon", "mask"} <= kinds
    (mask_flag,) = [f for f in r["flags"] if f["kind"] == "mask"]
    assert "STAPLE sensitivity below 0.99" in mask_flag["reasons"][0]
    # an IoU threshold above every overlap: nothing is the same object, nothing has a majority
    r = cs.consensus(three, tmp_path / "apart", iou=0.99)
    assert r["objects"]["kept"] == 0  # the tag (2 of 3) is kept: tags are not objects
    with Document.open(tmp_path / "apart") as doc:
        assert sum(len(doc.annotations(m.id)) for m in doc.media()) == 1


def test_output_rules(three, tmp_path, capsys):
    out = tmp_path / "merged"
    out.mkdir()
    assert main(["consensus", *three, "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["consensus", *three, "-o", str(Path(three[0]) / "inside")]) == 1
    assert "inside the input project" in capsys.readouterr().err
    assert not (Path(three[0]) / "inside").exists()
    media_folder = tmp_path / "dicom"
    media_folder.mkdir()
    with Document.open(three[0]) as doc:  # A's two.png is now a folder (as a DICOM series)
        m = next(x for x in doc.media() if x.name == "two.png")
        doc.execute(Put((replace(m, path=media_folder.as_posix()),)))
    assert main(["consensus", *three, "-o", str(media_folder / "merged")]) == 1
    assert "a media file of project" in capsys.readouterr().err
    assert list(media_folder.iterdir()) == []
    assert main(["consensus", three[0], "-o", str(tmp_path / "x")]) == 1
    assert "at least two" in capsys.readouterr().err
    assert main(["consensus", three[0], str(tmp_path / "nowhere"), "-o",
                 str(tmp_path / "y")]) == 1
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "y").exists() and not list(tmp_path.glob(".*partial"))


def test_cli_json_and_text(three, tmp_path):
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["consensus", *three, "-o", str(tmp_path / "m"), "--json", "--iou", "0.5",
                     "--flag-below", "0.5"])
    assert code == 0
    r = json.loads(buf.getvalue())
    assert r["output"] == str(tmp_path / "m") and r["flag_below"] == 0.5
    assert len(r["flags"]) == 4
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["consensus", *three, "-o", str(tmp_path / "t")]) == 0
    text = buf.getvalue()
    assert "object(s) kept, 1 dropped" in text and "drawn by 1 of 3" in text


def test_cli_defaults_equal_the_module_defaults():
    from app.io import quality_commands as qc

    assert (qc.DEFAULT_IOU, qc.DEFAULT_FLAG_BELOW) == (cs.DEFAULT_IOU, cs.DEFAULT_FLAG_BELOW)


# ------------------------------------------------------------------ label maps
def _volume_project(tmp: Path, name: str, vol: np.ndarray) -> str:
    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    item = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="ct-fp", size_bytes=1,
                     width=0, height=0, volume=VolumeGeometry(vol.shape, (1.0, 1.0, 2.0)))
    road = doc.schema.class_by_name("road").id
    info = LabelMapInfo(item.id, *vol.shape, segments=(Segment(1, "road", class_id=road),
                                                       Segment(2, "tumour")))
    doc.execute(Put((item, info)))
    for v in (1, 2):
        if (vol == v).any():
            doc.execute(ModifyLabelMap(info.id, (0, 0, 0), vol == v, Mode.ADD, v))
    doc.close()
    return str(tmp / name)


def test_label_maps_fuse_by_multilabel_staple_equal_to_simpleitk(tmp_path):
    import SimpleITK as sitk

    shape = (6, 20, 24)
    vols = []
    for n, shift in enumerate((0, 1, 3)):
        v = np.zeros(shape, np.uint16)
        v[1:5, 4 + shift:14 + shift, 3:12] = 1
        if n < 2:
            v[2:4, 5:9, 15:20] = 2  # the tumour: two of three
        vols.append(v)
    paths = [_volume_project(tmp_path, n, v) for n, v in zip(NAMES, vols)]
    r = cs.consensus(paths, tmp_path / "merged", flag_below=0.85)  # C's road: 0.8
    # the reference: SimpleITK on the same label images (values: sorted class names)
    classes = ["road", "tumour"]
    f = sitk.MultiLabelSTAPLEImageFilter()
    f.SetMaximumNumberOfIterations(cs.MAX_ITERATIONS)
    ref = sitk.GetArrayFromImage(f.Execute([sitk.GetImageFromArray(v) for v in vols]))
    ref = np.where(ref == 3, 0, ref)
    with Document.open(tmp_path / "merged") as doc:
        (m,) = doc.media()
        (info,) = doc.labelmaps(m.id)
        assert [s.name for s in info.segments] == classes
        assert info.segments[0].class_id == doc.schema.class_by_name("road").id
        got = doc.labelmap_volume(info.id)
    assert np.array_equal(got, ref)
    flagged = {f["class"]: f for f in r["flags"] if f["kind"] == "labelmap"}
    assert "segmented by 2 of 3" in flagged["tumour"]["reasons"][0]
    assert "sensitivity against the fused label map" in " ".join(flagged["road"]["reasons"])
    assert "ann_c 0.800" in " ".join(flagged["road"]["reasons"])
    assert "ann_a" not in " ".join(flagged["road"]["reasons"])


def test_multilabel_staple_function_counts_undecided():
    import SimpleITK as sitk

    a = np.array([[[0, 1, 2, 1]]], np.uint16)
    b = np.array([[[0, 2, 1, 1]]], np.uint16)
    fused, undecided = cs.multilabel_staple([a, b])
    f = sitk.MultiLabelSTAPLEImageFilter()
    f.SetMaximumNumberOfIterations(cs.MAX_ITERATIONS)
    ref = sitk.GetArrayFromImage(f.Execute([sitk.GetImageFromArray(x) for x in (a, b)]))
    assert undecided == int(np.count_nonzero(ref == 3))
    assert np.array_equal(fused, np.where(ref == 3, 0, ref)) and fused.dtype == np.uint16


def test_an_item_missing_from_one_project_is_fused_from_the_others(three, tmp_path):
    with Document.open(three[2]) as doc:  # C removes two.png (kept as removed: not listed)
        m = next(x for x in doc.media() if x.name == "two.png")
        doc.execute(Put((replace(m, removed=True),)))
    r = cs.consensus(three, tmp_path / "merged")
    assert r["media"]["partial"] == [{"item": "two.png", "in": ["ann_a", "ann_b"]}]
    got = _fused(tmp_path / "merged")
    (ct, at), = [(c, a) for c, a in got["two.png"] if a.shape.kind == "tag"]
    assert at.attributes["consensus"] == {"agree": 2, "of": 2, "review": False}
    (cm, am), = [(c, a) for c, a in got["two.png"] if a.shape.kind == "mask"]
    assert np.array_equal(decode(am.shape.rle), cs.staple(_MASKS[:2])[0])
    assert not [f for f in r["flags"] if f["item"] == "two.png"]
    with Document.open(tmp_path / "merged") as doc:
        assert {m.name: m.status.value for m in doc.media()} == {
            "one.png": "needs_review", "two.png": "in_progress"}


def test_an_empty_staple_estimate_is_not_kept(tmp_path):
    # A's large mask against B's and C's tiny ones, barely overlapping: IoU > 0 joins them
    # at --iou 0, but STAPLE finds no pixel of probability >= 0.5
    docs = [_project(tmp_path, n) for n in NAMES]
    big = np.zeros((H, W), bool)
    big[0:60, 0:60] = True
    small = np.zeros((H, W), bool)
    small[58:62, 58:62] = True
    for doc, m in zip(docs, (big, small, small)):
        _put(doc, "one.png", "road", Mask(encode(m)))
    paths = [str(d.folder) for d in docs]
    for d in docs:
        d.close()
    r = cs.consensus(paths, tmp_path / "merged", iou=0.0)
    fused, _, _, converged = cs.staple([big, small, small])
    assert not fused.any() and not converged  # SimpleITK's estimate, capped
    assert not [a for _, a in _fused(tmp_path / "merged").get("one.png", [])
                if a.shape.kind == "mask"]
    (flag,) = r["flags"]
    assert r["objects"] == {"kept": 0, "dropped": 1} and not flag["kept"]
    assert any("empty" in x for x in flag["reasons"])
    assert any("did not converge" in x for x in flag["reasons"])


# ------------------------------------------------------------------ video tracks
def _video_project(tmp: Path, name: str, tracks) -> str:
    from app.core.annotations import Track
    from app.core.geometry import VideoGeometry

    doc = Document.create(tmp / name)
    doc.execute(SetSchema(make_schema()))
    video = MediaItem(kind=MediaKind.VIDEO, path="clip.mp4", fingerprint="clip-fp",
                      size_bytes=1, width=0, height=0,
                      video=VideoGeometry(frame_count=12, width=W, height=H))
    doc.execute(Put((video,)))
    for cls, keys in tracks:
        c = doc.schema.class_by_name(cls).id
        t = Track(media_id=video.id, class_id=c)
        doc.execute(Put((t, *(Annotation(place=Place(video.id, f), class_id=c, track_id=t.id,
                                         shape=box, outside=out) for f, box, out in keys))))
    doc.close()
    return str(tmp / name)


def _shown(path: str) -> list[tuple[str, dict[int, tuple], dict]]:
    from app.core.interpolate import shown_frames

    with Document.open(path) as doc:
        (m,) = doc.media()
        out = []
        for t in doc.tracks(m.id):
            boxes = {a.frame: tuple(a.shape.bbox())
                     for a in shown_frames(doc.track_shapes(t), m.frames)}
            out.append((doc.schema.class_by_id(t.class_id).name, boxes, t.attributes))
        return out


def test_tracks_fuse_frame_by_frame_by_wbf(tmp_path):
    a = [("car", [(0, Box(5, 5, 20, 20), False), (11, Box(60, 5, 20, 20), False)])]
    b = [("car", [(0, Box(6, 6, 20, 20), False), (11, Box(62, 5, 20, 20), False)])]
    c = [("road", [(0, Box(5, 4, 21, 20), False), (5, Box(30, 4, 21, 20), False),
                   (6, Box(30, 4, 21, 20), True)]),  # frames 0..5 only
         ("car", [(0, Box(50, 70, 10, 10), False)])]  # C alone: dropped
    paths = [_video_project(tmp_path, n, t) for n, t in zip(NAMES, (a, b, c))]
    inputs = [{cls: boxes for cls, boxes, _ in _shown(p)} for p in paths]
    r = cs.consensus(paths, tmp_path / "merged")
    (cls, boxes, attrs), = _shown(str(tmp_path / "merged"))
    assert cls == "car" and attrs["consensus"]["agree"] == 3
    assert "class: car 2, road 1" in attrs["consensus"]["flags"]
    assert sorted(boxes) == list(range(12))
    for f in range(12):
        members = [inputs[0]["car"][f], inputs[1]["car"][f]] + (
            [inputs[2]["road"][f]] if f < 6 else [])
        ref, _ = _wbf_reference(members, [1.0] * len(members), 3)
        x, y, w, h = boxes[f]
        assert np.allclose([x, y, x + w, y + h], ref)
    tracks = [f for f in r["flags"] if f["kind"] == "track"]
    assert sorted((f["agree"], f["kept"]) for f in tracks) == [(1, False), (3, True)]
    assert cs.track_similarity(inputs[0]["car"], inputs[0]["car"]) == 1.0


def test_a_track_run_ends_with_an_outside_marker(tmp_path):
    # A and B show the object on frames 0..4 only; the fused track must not hold to the end
    keys = [(0, Box(5, 5, 20, 20), False), (4, Box(9, 5, 20, 20), False),
            (5, Box(9, 5, 20, 20), True)]
    paths = [_video_project(tmp_path, n, [("car", keys)]) for n in NAMES[:2]]
    cs.consensus(paths, tmp_path / "merged")
    (_, boxes, attrs), = _shown(str(tmp_path / "merged"))
    assert sorted(boxes) == [0, 1, 2, 3, 4] and attrs["consensus"]["review"] is False
