"""CVAT XML (issue 18): export judged by datumaro's CVAT importer, datumaro's CVAT export
imported with nothing lost, a hand-written CVAT-for-video file's tracks, three generations
stable, bad input in one sentence with the project unchanged, and the CLI help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import image_item, project_with_every_shape, write_image

from app.core.annotations import Annotation, Track
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.errors import VellumError
from app.core.geometry import VideoGeometry
from app.core.media import MediaItem, MediaKind
from app.core.places import Place
from app.core.rle import decode
from app.core.schema import AttributeSpec, AttributeType, LabelClass, LabelSchema
from app.core.shapes import Box
from app.io.cvat import export_cvat, plan_import
from app.io.cvat.common import mask_from_cvat, mask_to_cvat

REPO = Path(__file__).resolve().parents[1]
MODULE = "app.io.formats.cvat"


def _import(doc, path, **kw):
    cmd, report = plan_import(doc, path, **kw)
    doc.execute(cmd)
    return report


def _objects(doc):
    names = {c.id: c.name for c in doc.schema.classes}
    out = []
    for m in doc.media():
        for a in doc.annotations(m.id, all_frames=True):
            out.append((Path(m.path).name, a.frame, names.get(a.class_id), a.kind,
                        tuple(round(v, 4) for v in a.shape.bbox()), a.occluded, a.outside,
                        a.keyframe, tuple(sorted(a.attributes.items()))))
    return sorted(out, key=repr)


def test_mask_rle_matches_datumaro():
    mask_tools = pytest.importorskip("datumaro.util.mask_tools")
    rng = np.random.default_rng(3)
    m = np.zeros((40, 50), bool)
    m[5:30, 7:44] = rng.random((25, 37)) > 0.4
    rle, left, top, width, height = mask_to_cvat(m)
    crop = m[top:top + height, left:left + width]
    theirs = mask_tools.mask_to_rle(crop.transpose())["counts"]  # as datumaro's exporter
    assert [int(c) for c in rle.split(", ")] == [int(c) for c in theirs]
    assert (mask_from_cvat(rle, left, top, width, height, 40, 50) == m).all()


def test_three_generations_images_are_identical(tmp_path):
    doc, imgs = project_with_every_shape(tmp_path)
    notes: list[str] = []
    export_cvat(doc, tmp_path / "g1.xml", notes=notes)
    assert any("holes" in n for n in notes)
    d2 = Document.create(tmp_path / "p2")
    _import(d2, tmp_path / "g1.xml", images_dir=imgs)
    export_cvat(d2, tmp_path / "g2.xml")
    d3 = Document.create(tmp_path / "p3")
    _import(d3, tmp_path / "g2.xml", images_dir=imgs)
    export_cvat(d3, tmp_path / "g3.xml")
    assert (tmp_path / "g2.xml").read_text() == (tmp_path / "g3.xml").read_text()
    assert _objects(d2) == _objects(d3)
    # what CVAT holds survives the first generation exactly
    want = [o for o in _objects(doc) if o[3] in ("box", "rotated_box", "polyline", "mask",
                                                  "keypoints", "tag")]
    got = [o for o in _objects(d2) if o[3] in ("box", "rotated_box", "polyline", "mask",
                                               "keypoints", "tag")]
    assert want == got


def test_datumaro_reads_our_export(tmp_path):
    dm = pytest.importorskip("datumaro")
    doc, imgs = project_with_every_shape(tmp_path)
    out = doc.folder / "out.xml"  # datumaro looks for images/ beside the XML
    export_cvat(doc, out)
    ds = dm.Dataset.import_from(str(out), "cvat")
    cats = ds.categories()[dm.AnnotationType.label]
    ours = {a.kind: a for a in doc.annotations(doc.media()[0].id)}
    items = {it.id: it for it in ds}
    anns = items["img0"].annotations
    box = next(a for a in anns if a.type == dm.AnnotationType.bbox)
    assert cats[box.label].name == "car"
    assert np.allclose(box.get_bbox(), ours["box"].shape.bbox(), atol=0.5)
    assert box.attributes["plate"] == "AB-12" and box.attributes["doors"] == 4
    polys = [a for a in anns if a.type == dm.AnnotationType.polygon]
    assert len(polys) == 2
    masks = [a for a in anns if a.type == dm.AnnotationType.mask]
    vmasks = sorted((a for a in doc.annotations(doc.media()[0].id) if a.kind == "mask"),
                    key=lambda a: a.shape.bbox()[1])
    theirs = sorted((m.image.astype(bool) for m in masks), key=lambda m: np.argwhere(m)[0][0])
    for a, m in zip(vmasks, theirs):
        assert (decode(a.shape.rle) == m).all()


def test_datumaro_export_imports_with_nothing_lost(tmp_path):
    dm = pytest.importorskip("datumaro")
    img_dir = tmp_path / "src" / "images"
    img_dir.mkdir(parents=True)
    write_image(img_dir / "a.png", 60, 40)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 5:25] = 1
    ds = dm.Dataset.from_iterable([dm.DatasetItem(
        id="a", media=dm.Image.from_file(str(img_dir / "a.png")), annotations=[
            dm.Bbox(1.5, 2.25, 10, 20, label=0, attributes={"truncated": True}, z_order=2),
            dm.Polygon([5, 5, 30, 5, 20, 25], label=1, group=3),
            dm.Points([10, 10, 20, 12], label=1),
            dm.Mask(mask, label=0),
        ])], categories={dm.AnnotationType.label: dm.LabelCategories.from_iterable(
            [("car", "", ["truncated"]), "road"])})
    out = tmp_path / "dm"
    ds.export(str(out), "cvat", save_media=False)
    xml = next(out.glob("*.xml"))
    doc = Document.create(tmp_path / "p")
    doc.execute(Put((image_item(write_image(doc.folder / "a.png", 60, 40), doc),)))
    _import(doc, xml)
    names = {c.id: c.name for c in doc.schema.classes}
    anns = doc.annotations(doc.media()[0].id)
    by = {a.kind: a for a in anns}
    assert by["box"].shape.bbox() == (1.5, 2.25, 10.0, 20.0) and by["box"].z == 2
    assert by["box"].attributes["truncated"] in (True, "true")
    assert names[by["polygon"].class_id] == "road"
    assert by["polygon"].foreign["cvat"]["group_id"] == "3"
    assert [tuple(p[:2]) for p in by["keypoints"].shape.points] == [(10, 10), (20, 12)]
    assert (decode(by["mask"].shape.rle) == mask.astype(bool)).all()


VIDEO_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id><name>cars</name><size>40</size><mode>interpolation</mode>
      <labels>
        <label><name>car</name><color>#ff0000</color><type>any</type>
          <attributes>
            <attribute><name>moving</name><mutable>True</mutable><input_type>checkbox</input_type><default_value>false</default_value><values>true
false</values></attribute>
            <attribute><name>model</name><mutable>False</mutable><input_type>text</input_type><default_value></default_value><values></values></attribute>
          </attributes>
        </label>
      </labels>
      <original_size><width>320</width><height>240</height></original_size>
      <source>cam.mp4</source>
    </task>
  </meta>
  <track id="0" label="car" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10.00" ytl="20.00" xbr="40.00" ybr="60.00" z_order="0">
      <attribute name="moving">false</attribute><attribute name="model">golf</attribute>
    </box>
    <box frame="1" keyframe="0" outside="0" occluded="0" xtl="20.00" ytl="20.00" xbr="50.00" ybr="60.00" z_order="0">
      <attribute name="moving">false</attribute><attribute name="model">golf</attribute>
    </box>
    <box frame="2" keyframe="1" outside="0" occluded="1" xtl="30.00" ytl="20.00" xbr="60.00" ybr="60.00" z_order="0">
      <attribute name="moving">true</attribute><attribute name="model">golf</attribute>
    </box>
    <box frame="3" keyframe="1" outside="1" occluded="1" xtl="30.00" ytl="20.00" xbr="60.00" ybr="60.00" z_order="0">
      <attribute name="moving">true</attribute><attribute name="model">golf</attribute>
    </box>
  </track>
</annotations>
"""


def _video_project(tmp_path, name="p"):
    doc = Document.create(tmp_path / name)
    doc.execute(Put((MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f",
                               size_bytes=1, width=0, height=0, id="cam",
                               video=VideoGeometry(40, 320, 240, avg_fps=25.0)),)))
    return doc


def test_hand_written_video_tracks(tmp_path):
    src = tmp_path / "video.xml"
    src.write_text(VIDEO_XML)
    doc = _video_project(tmp_path)
    _import(doc, src)
    (track,) = doc.tracks("cam")
    assert track.attributes == {"model": "golf"}
    shapes = doc.track_shapes(track)
    assert [(a.frame, a.keyframe, a.outside, a.occluded, a.attributes["moving"])
            for a in shapes] == [(0, True, False, False, False), (2, True, False, True, True),
                                 (3, True, True, True, True)]
    assert shapes[0].shape == Box(10, 20, 30, 40)
    cls = doc.schema.class_by_name("car")
    assert cls.attribute("moving").dynamic and not cls.attribute("model").dynamic
    # three generations
    export_cvat(doc, tmp_path / "g1.xml")
    d2 = _video_project(tmp_path, "p2")
    _import(d2, tmp_path / "g1.xml")
    export_cvat(d2, tmp_path / "g2.xml")
    assert (tmp_path / "g1.xml").read_text() == (tmp_path / "g2.xml").read_text()
    assert _objects(doc) == _objects(d2)


def test_datumaro_reads_our_tracks(tmp_path):
    dm = pytest.importorskip("datumaro")
    src = tmp_path / "video.xml"
    src.write_text(VIDEO_XML)
    doc = _video_project(tmp_path)
    _import(doc, src)
    export_cvat(doc, tmp_path / "out.xml")
    ds = dm.Dataset.import_from(str(tmp_path / "out.xml"), "cvat")
    got = sorted((it.attributes["frame"], a.attributes["keyframe"], a.attributes["outside"],
                  a.attributes["occluded"], tuple(np.round(a.get_bbox(), 2)))
                 for it in ds for a in it.annotations)
    assert got == [(0, True, False, False, (10, 20, 30, 40)),
                   (1, False, False, False, (20, 20, 30, 40)),
                   (2, True, False, True, (30, 20, 30, 40)),
                   (3, True, True, True, (30, 20, 30, 40))]


BAD = {
    "laughs.xml": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                  "<annotations>&b;</annotations>",
    "laughs16.xml": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY a "aa">]>'
                    "<annotations>&a;</annotations>",
    "external.xml": '<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd">'
                    "<annotations/>",
    "broken.xml": "<annotations><image name='x'>",
    "root.xml": "<foo/>",
    "missing.xml": "<annotations><image id='0' name='nope.png' width='4' height='4'>"
                   "<box label='a' xtl='0' ytl='0' xbr='1' ybr='1'/></image></annotations>",
    "range.xml": VIDEO_XML.replace('frame="3"', 'frame="99"'),
    "deep.xml": "<annotations>" + "<a>" * 100 + "</a>" * 100 + "</annotations>",
    "badbox.xml": VIDEO_XML.replace('xtl="10.00"', 'xtl="nan-ish"'),
}


@pytest.mark.parametrize("name", sorted(BAD) + ["fifo"])
def test_bad_input_is_one_sentence_and_changes_nothing(tmp_path, name):
    doc = _video_project(tmp_path)
    before = (doc.schema, _objects(doc), len(doc.media()))
    p = tmp_path / name
    if name == "fifo":
        os.mkfifo(p)
    elif name.endswith("16.xml"):
        p.write_bytes(BAD[name].encode("utf-16"))
    else:
        p.write_text(BAD[name])
    with pytest.raises(VellumError) as exc:
        plan_import(doc, p)
    msg = str(exc.value)
    assert str(p) in msg and "\n" not in msg and "Traceback" not in msg
    assert (doc.schema, _objects(doc), len(doc.media())) == before


def _cli(*argv, cwd=REPO):
    env = dict(os.environ, VELLUM_FORMATS=MODULE)
    return subprocess.run([sys.executable, "-m", "app", *map(str, argv)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def test_cli_help_import_export_and_mixed_layout(tmp_path):
    for verb in ("import", "export"):
        r = _cli(verb, "--help")
        assert r.returncode == 0 and "cvat" in r.stdout, r.stderr
    assert "--layout" in _cli("export", "cvat", "--help").stdout
    doc, imgs = project_with_every_shape(tmp_path)
    doc.execute(Put((MediaItem(kind=MediaKind.VIDEO, path="cam.mp4", fingerprint="f",
                               size_bytes=1, width=0, height=0, id="cam",
                               video=VideoGeometry(40, 320, 240, avg_fps=25.0)),)))
    car = doc.schema.class_by_name("road")
    t = Track("cam", car.id)
    doc.execute(Put((t, Annotation(Place("cam", 3), Box(1, 2, 3, 4), car.id, track_id=t.id))))
    path = doc.path
    doc.close()
    r = _cli("export", "cvat", path, tmp_path / "one.xml")
    assert r.returncode != 0 and "give a folder" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "one.xml").exists()
    r = _cli("export", "cvat", path, tmp_path / "both")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["cam.xml", "images.xml"]
    r = _cli("export", "cvat", path, tmp_path / "imgs.xml", "--layout", "images")
    assert r.returncode == 0, r.stderr
    r = _cli("export", "cvat", path, tmp_path / "imgs.xml", "--layout", "images")
    assert r.returncode != 0 and "overwrite" in r.stderr
    r = _cli("import", "cvat", path, tmp_path / "both" / "cam.xml")
    assert r.returncode == 0, r.stderr


IMAGES_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>3</id><name>street</name><size>1</size><mode>annotation</mode>
      <labels>
        <label><name>car</name><color>#00ff00</color><type>any</type>
          <attributes>
            <attribute><name>colour</name><mutable>False</mutable><input_type>select</input_type><default_value>red</default_value><values>red
blue</values></attribute>
            <attribute><name>doors</name><mutable>False</mutable><input_type>number</input_type><default_value>4</default_value><values>0
8
1</values></attribute>
          </attributes>
        </label>
        <label><name>person</name><color>#0000ff</color><type>skeleton</type><attributes></attributes>
          <svg>&lt;line x1="1" y1="1" x2="2" y2="2" data-type="edge" data-node-from="1" data-node-to="2"&gt;&lt;/line&gt;&lt;circle r="1.5" cx="1" cy="1" data-type="element node" data-element-id="1" data-node-id="1" data-label-name="head"&gt;&lt;/circle&gt;&lt;circle r="1.5" cx="2" cy="2" data-type="element node" data-element-id="2" data-node-id="2" data-label-name="foot"&gt;&lt;/circle&gt;</svg>
        </label>
        <label><name>head</name><type>points</type><attributes></attributes><parent>person</parent></label>
        <label><name>foot</name><type>points</type><attributes></attributes><parent>person</parent></label>
        <label><name>sunny</name><type>tag</type><attributes></attributes></label>
      </labels>
    </task>
  </meta>
  <image id="0" name="C:\\\\data\\\\street\\\\a.png" width="60" height="40">
    <box label="car" source="auto" occluded="1" xtl="1.5" ytl="2" xbr="11.5" ybr="22" rotation="30" z_order="3" group_id="2">
      <attribute name="colour">blue</attribute><attribute name="doors">2</attribute>
    </box>
    <ellipse label="car" source="manual" occluded="0" cx="30" cy="20" rx="10" ry="5" rotation="15" z_order="0"></ellipse>
    <polyline label="car" source="manual" occluded="0" points="1,1;5.25,7;9,3" z_order="1"></polyline>
    <mask label="car" source="manual" occluded="0" rle="2, 3, 1, 3, 3" left="40" top="30" width="4" height="3" z_order="0"></mask>
    <skeleton label="person" source="manual" occluded="0" z_order="0">
      <points label="head" occluded="0" outside="0" points="10.5,10.5"></points>
      <points label="foot" occluded="1" outside="0" points="12,30"></points>
    </skeleton>
    <tag label="sunny" source="manual"></tag>
  </image>
</annotations>
"""


def test_hand_written_images_file_every_shape(tmp_path):
    src = tmp_path / "in"
    (src / "street").mkdir(parents=True)
    write_image(src / "street" / "a.png", 60, 40)
    (src / "ann.xml").write_text(IMAGES_XML)
    doc = Document.create(tmp_path / "p")
    report = _import(doc, src / "ann.xml")
    assert report["media"] == 1 and any("ellipse" in n for n in report["notes"])
    anns = {a.kind: a for a in doc.annotations(doc.media()[0].id)}
    rb = anns["rotated_box"]
    assert (rb.shape.cx, rb.shape.cy, rb.shape.w, rb.shape.h, rb.shape.angle) == (
        6.5, 12.0, 10.0, 20.0, 30.0)
    assert rb.attributes == {"colour": "blue", "doors": 2} and rb.z == 3 and rb.occluded
    assert rb.foreign["cvat"] == {"group_id": "2", "source": "auto"}
    m = decode(anns["mask"].shape.rle)
    assert m.sum() == 6 and m[30, 42] and m[30, 43] and m[31, 40] and not m[30, 40]
    kp = anns["keypoints"].shape
    assert [tuple(p) for p in kp.points] == [(10.5, 10.5, 2), (12, 30, 1)]
    person = doc.schema.class_by_name("person")
    assert person.skeleton.points == ("head", "foot") and person.skeleton.edges == ((0, 1),)
    assert anns["tag"].class_id == doc.schema.class_by_name("sunny").id
    assert anns["polygon"].foreign["cvat"]["ellipse"] == [30, 20, 10, 5, 15]
    export_cvat(doc, tmp_path / "g1.xml")
    text = (tmp_path / "g1.xml").read_text()
    assert "<ellipse" in text and 'rotation="30"' in text and "<skeleton" in text
    d2 = Document.create(tmp_path / "p2")
    _import(d2, tmp_path / "g1.xml", images_dir=src)
    export_cvat(d2, tmp_path / "g2.xml")
    assert (tmp_path / "g2.xml").read_text() == text
    assert _objects(d2) == _objects(doc)


def test_export_progress_cancel_and_no_half_written_output(tmp_path):
    doc, _ = project_with_every_shape(tmp_path)
    seen = []
    export_cvat(doc, tmp_path / "a.xml", progress=lambda d, t, *a: seen.append((d, t)))
    assert seen[-1] == (2, 2)
    with pytest.raises(VellumError, match="cancelled"):
        export_cvat(doc, tmp_path / "b.xml", cancelled=lambda: True)
    assert not (tmp_path / "b.xml").exists()
    with pytest.raises(VellumError, match="cancelled"):
        plan_import(doc, tmp_path / "a.xml", cancelled=lambda: True)


def test_polygon_track_keeps_keyframes_and_drops_reproduced_frames(tmp_path):
    from app.core.shapes import Polygon

    doc = _video_project(tmp_path)
    doc.execute(SetSchema(LabelSchema((LabelClass("blob", attributes=(
        AttributeSpec("state", AttributeType.ENUM, options=("a", "b"), dynamic=True),)),))))
    cls = doc.schema.classes[0]
    t = Track("cam", cls.id)
    sq = lambda x: Polygon(((x, 0), (x + 10, 0), (x + 10, 10), (x, 10)))  # noqa: E731
    doc.execute(Put((t,
                     Annotation(Place("cam", 2), sq(0), cls.id, track_id=t.id,
                                attributes={"state": "a"}),
                     Annotation(Place("cam", 6), sq(40), cls.id, track_id=t.id,
                                attributes={"state": "b"}, occluded=True),
                     Annotation(Place("cam", 9), sq(40), cls.id, track_id=t.id, outside=True,
                                attributes={"state": "b"}))))
    export_cvat(doc, tmp_path / "g1.xml")
    text = (tmp_path / "g1.xml").read_text()
    assert text.count("<polygon") == 8 and text.count('keyframe="1"') == 3
    d2 = _video_project(tmp_path, "p2")
    _import(d2, tmp_path / "g1.xml")
    (t2,) = d2.tracks("cam")
    assert [(a.frame, a.keyframe, a.outside, a.occluded, a.attributes)
            for a in d2.track_shapes(t2)] == [
        (2, True, False, False, {"state": "a"}), (6, True, False, True, {"state": "b"}),
        (9, True, True, False, {"state": "b"})]
    export_cvat(d2, tmp_path / "g2.xml")
    assert (tmp_path / "g2.xml").read_text() == text


def test_tracks_need_a_known_video(tmp_path):
    src = tmp_path / "video.xml"
    src.write_text(VIDEO_XML.replace("<source>cam.mp4</source>", "<source>other.mp4</source>"))
    doc = _video_project(tmp_path)
    doc.execute(Put((MediaItem(kind=MediaKind.VIDEO, path="b.mp4", fingerprint="g",
                               size_bytes=1, width=0, height=0, id="b",
                               video=VideoGeometry(5, 320, 240, avg_fps=25.0)),)))
    with pytest.raises(VellumError, match="--video"):
        plan_import(doc, src)
    _import(doc, src, video="cam.mp4")
    assert len(doc.tracks("cam")) == 1 and doc.tracks("b") == []


def test_cvat_for_images_of_a_video_task_lands_on_the_video_frames(tmp_path):
    """CVAT exports a video task "for images" as <image name="frame_000012">: each is that
    frame of the project's video (0-based), not a missing photo."""
    doc = _video_project(tmp_path)
    xml = tmp_path / "annotations.xml"
    xml.write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><task>'
        '<name>t</name><mode>interpolation</mode><labels><label><name>car</name>'
        '<type>rectangle</type><attributes/></label></labels></task></meta>'
        '<image id="0" name="frame_000000" width="320" height="240"><box label="car" '
        'occluded="0" xtl="10" ytl="20" xbr="50" ybr="60" z_order="0"></box></image>'
        '<image id="12" name="frame_000012" width="320" height="240"><box label="car" '
        'occluded="1" xtl="12" ytl="22" xbr="52" ybr="62" z_order="0"></box></image>'
        '</annotations>')
    _import(doc, xml)
    (first,) = doc.annotations("cam", 0)
    (later,) = doc.annotations("cam", 12)
    assert first.shape.bbox() == (10, 20, 40, 40) and not first.occluded
    assert later.shape.bbox() == (12, 22, 40, 40) and later.occluded
    bad = tmp_path / "past.xml"
    bad.write_text(xml.read_text().replace("frame_000012", "frame_000099"))
    with pytest.raises(VellumError, match="past the end"):
        plan_import(doc, bad)
    doc.close()
