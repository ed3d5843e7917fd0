"""Small builders for test projects (plain functions, used by several test modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.places import Place
from app.core.annotations import Annotation
from app.core.commands import Put, SetSchema
from app.core.document import Document
from app.core.media import MediaItem, MediaKind, fingerprint
from app.core.rle import encode
from app.core.schema import AttributeSpec, AttributeType, LabelClass, LabelSchema, Skeleton
from app.core.shapes import Box, Keypoints, Mask, Polygon, Polyline, RotatedBox, Tag
from app.io.images import write_png


def make_schema() -> LabelSchema:
    """Classes covering every shape kind, attributes of every type, a skeleton."""
    return LabelSchema(classes=(
        LabelClass("car", "#e6194b", hotkey="1", attributes=(
            AttributeSpec("parked", AttributeType.BOOL),
            AttributeSpec("colour", AttributeType.ENUM, options=("red", "blue", "other")),
            AttributeSpec("doors", AttributeType.NUMBER, minimum=0, maximum=8),
            AttributeSpec("plate", AttributeType.TEXT))),
        LabelClass("road", "#3cb44b", hotkey="2"),
        LabelClass("person", "#4363d8", hotkey="3", kinds=("keypoints",),
                   skeleton=Skeleton(("head", "l_hand", "r_hand", "l_foot", "r_foot"),
                                     ((0, 1), (0, 2), (0, 3), (0, 4)))),
        LabelClass("weather", "#f58231", kinds=("tag",)),
    ))


def write_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    write_png(path, rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    return path


def image_item(path: Path, doc: Document, position: int = 0) -> MediaItem:
    from app.io.images import image_size

    w, h = image_size(path)
    return MediaItem(kind=MediaKind.IMAGE, path=path.relative_to(doc.folder).as_posix(),
                     fingerprint=fingerprint(path), size_bytes=path.stat().st_size, width=w,
                     height=h, position=position)


def every_shape(media_id: str, schema: LabelSchema, w: int, h: int) -> list[Annotation]:
    """One annotation of every 2D shape kind, with awkward geometry."""
    car, road, person, weather = (schema.class_by_name(n) for n in
                                  ("car", "road", "person", "weather"))
    mask = np.zeros((h, w), bool)
    mask[10:30, 40:47] = True
    mask[12:14, 50:90] = True
    mk = lambda cls, shape, **kw: Annotation(place=Place(media_id), class_id=cls.id, shape=shape,  # noqa
                                             **kw)
    return [
        mk(car, Box(3.5, 4.25, 20.0, 11.5),
           attributes={"parked": True, "colour": "blue", "doors": 4, "plate": "AB-12"}),
        mk(car, RotatedBox(60.0, 40.0, 30.0, 12.0, 30.0)),
        mk(road, Polygon(((5, 50), (40, 45), (20, 60), (45, 75), (2, 78)))),  # concave
        mk(road, Polygon(((50, 50), (95, 50), (95, 95), (50, 95)),
                         holes=(((60, 60), (80, 60), (80, 80), (60, 80)),))),
        mk(road, Polyline(((1, 1), (30, 9.5), (33.2, 40)))),
        mk(road, Mask(encode(mask)), iscrowd=True),
        mk(road, Mask(encode(np.roll(mask, 40, axis=0)))),
        mk(person, Keypoints(((20.5, 20.5, 2), (15.5, 30.5, 1), (0, 0, 0), (18.5, 45.5, 2),
                              (24.5, 45.5, 2)))),
        mk(weather, Tag(), attributes={}),
    ]


def project_with_every_shape(tmp: Path, w: int = 100, h: int = 100) -> tuple[Document, Path]:
    """A project with two images and every 2D shape kind on the first; images in tmp/images."""
    doc = Document.create(tmp / "proj")
    img_dir = doc.folder / "images"
    img_dir.mkdir()
    items = [image_item(write_image(img_dir / f"img{n}.png", w, h, seed=n), doc, n)
             for n in range(2)]
    doc.execute(Put(tuple(items)))
    doc.execute(SetSchema(make_schema()))
    doc.execute(Put(tuple(every_shape(items[0].id, doc.schema, w, h))))
    return doc, img_dir
