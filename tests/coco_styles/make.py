"""Writes the COCO files of this folder, each in the style of the tool it is named after
(key order, id scheme, extra keys, number formats), from those tools' public conventions.

Run ``python tests/coco_styles/make.py`` to regenerate them; the tests read the JSON files
(and write small images of the sizes they list). Deterministic (fixed seed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mu

HERE = Path(__file__).resolve().parent
RNG = np.random.default_rng(6)
COCO17 = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                 [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                 [4, 6], [5, 7]]


def poly(cx: float, cy: float, r: float, n: int = 7, digits: int = 2) -> list[float]:
    ang = np.sort(RNG.uniform(0, 2 * np.pi, n))
    rad = RNG.uniform(0.5 * r, r, n)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    return [round(float(v), digits) for v in pts.ravel()]


def pts_bbox(polys: list[list[float]], digits: int | None = 2) -> list[float]:
    xs = [v for p in polys for v in p[0::2]]
    ys = [v for p in polys for v in p[1::2]]
    b = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return [round(v, digits) for v in b] if digits is not None else b


def mask_area(polys: list[list[float]], h: int, w: int) -> float:
    return float(mu.area(mu.merge(mu.frPyObjects(polys, h, w))))


def mask_bbox(polys: list[list[float]], h: int, w: int) -> list[float]:
    return [float(v) for v in mu.toBbox(mu.merge(mu.frPyObjects(polys, h, w)))]


def blob(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    y, x = int(RNG.integers(5, h // 2)), int(RNG.integers(5, w // 2))
    m[y:y + 12, x:x + 15] = 1
    m[y + 3:y + 6, x + 15:x + 25] = 1
    return m


def uncompressed(m: np.ndarray) -> dict:
    flat = m.flatten(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = v, 1
    counts.append(run)
    return {"counts": [int(c) for c in counts], "size": [int(m.shape[0]), int(m.shape[1])]}


def compressed(m: np.ndarray) -> dict:
    r = mu.encode(np.asfortranarray(m))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode()}


def write(name: str, data: dict | list) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1) + "\n")


def cvat() -> dict:
    """CVAT 'COCO 1.0' (datumaro's writer with attributes): ids from 1, licenses id 0, empty
    info strings, attributes {occluded, rotation, track_id, keyframe} plus the user's."""
    w, h = 96, 72
    cats = [{"id": 1, "name": "car", "supercategory": ""},
            {"id": 2, "name": "person", "supercategory": ""},
            {"id": 3, "name": "road", "supercategory": ""}]
    images = [{"id": i + 1, "width": w, "height": h, "file_name": f"frame_{i:06d}.jpg",
               "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}
              for i in range(3)]
    anns = []

    def add(**kw):
        anns.append({"id": len(anns) + 1, **kw})

    p = [poly(30, 30, 14)]
    add(image_id=1, category_id=1, segmentation=p, area=mask_area(p, h, w),
        bbox=pts_bbox(p), iscrowd=0,
        attributes={"occluded": False, "rotation": 0.0, "color": "red"})
    p2 = [poly(20, 50, 8), poly(60, 50, 9)]  # one object in two parts (CVAT group)
    add(image_id=1, category_id=2, segmentation=p2, area=mask_area(p2, h, w),
        bbox=pts_bbox(p2), iscrowd=0, attributes={"occluded": True, "rotation": 0.0})
    m = blob(h, w)
    add(image_id=2, category_id=3, segmentation=uncompressed(m), area=float(m.sum()),
        bbox=[float(v) for v in mu.toBbox(mu.encode(np.asfortranarray(m)))], iscrowd=1,
        attributes={"occluded": False, "rotation": 0.0})
    add(image_id=2, category_id=1, segmentation=[], area=180.0, bbox=[10.5, 12.25, 18.0, 10.0],
        iscrowd=0, attributes={"occluded": False, "rotation": 30.0})
    for i in (1, 2, 3):  # a track exported frame by frame
        add(image_id=i, category_id=1, segmentation=[], area=99.0,
            bbox=[40.0 + i, 20.0, 11.0, 9.0], iscrowd=0,
            attributes={"occluded": False, "rotation": 0.0, "track_id": 0,
                        "keyframe": i != 2})
    return {"licenses": [{"name": "", "id": 0, "url": ""}],
            "info": {"contributor": "", "date_created": "", "description": "", "url": "",
                     "version": "", "year": ""},
            "categories": cats, "images": images, "annotations": anns}


def datumaro_instances() -> dict:
    """datumaro 'coco_instances' + keypoints: solitary keypoints with segmentation [] and the
    points' bbox; two categories both named 'person' (different supercategory)."""
    w, h = 80, 64
    data = cvat()
    data["images"] = [{"id": i + 1, "width": w, "height": h, "file_name": f"img_{i}.png",
                       "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}
                      for i in range(2)]
    data["categories"] = [
        {"id": 1, "name": "person", "supercategory": "human", "keypoints": ["head", "hand"],
         "skeleton": [[1, 2]]},
        {"id": 2, "name": "person", "supercategory": "statue", "keypoints": [], "skeleton": []},
        {"id": 3, "name": "tree", "supercategory": "", "keypoints": [], "skeleton": []}]
    p = [poly(40, 30, 12)]
    data["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [], "area": 70.0,
         "bbox": [10.0, 12.0, 10.0, 7.0], "iscrowd": 0, "keypoints": [10, 12, 2, 20, 19, 1],
         "num_keypoints": 2},
        {"id": 2, "image_id": 1, "category_id": 2, "segmentation": p,
         "area": mask_area(p, h, w), "bbox": pts_bbox(p), "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 3, "segmentation": p,
         "area": mask_area(p, h, w), "bbox": pts_bbox(p), "iscrowd": 0, "score": 0.75}]
    return data


def datumaro_labels() -> dict:
    return {"licenses": [{"name": "", "id": 0, "url": ""}],
            "info": {"contributor": "", "date_created": "", "description": "", "url": "",
                     "version": "", "year": ""},
            "categories": [{"id": 1, "name": "indoor", "supercategory": ""},
                           {"id": 2, "name": "outdoor", "supercategory": ""}],
            "images": [{"id": i + 1, "width": 40, "height": 30, "file_name": f"s{i}.jpg",
                        "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}
                       for i in range(2)],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1},
                            {"id": 2, "image_id": 2, "category_id": 2, "score": 0.5,
                             "attributes": {"weather": "rain"}}]}


def datumaro_captions() -> dict:
    d = datumaro_labels()
    d["categories"] = []
    d["annotations"] = [{"id": 1, "image_id": 1, "category_id": 0, "caption": "a red door"},
                        {"id": 2, "image_id": 2, "category_id": 0,
                         "caption": "two bikes by a wall"}]
    return d


def labelme2coco() -> dict:
    """wkentaro/labelme's examples/instance_segmentation/labelme2coco.py: ids from 0, a
    '_background_' category 0, nulls, 'type': 'instances', areas and bboxes from the mask."""
    w, h = 64, 48
    images = [{"license": 0, "url": None, "file_name": f"JPEGImages/2011_00000{i}.jpg",
               "height": h, "width": w, "date_captured": None, "id": i} for i in range(2)]
    cats = [{"supercategory": None, "id": 0, "name": "_background_"},
            {"supercategory": None, "id": 1, "name": "cat"},
            {"supercategory": None, "id": 2, "name": "dog"}]
    anns = []
    for i, (img, cat, parts) in enumerate([(0, 1, 1), (0, 2, 2), (1, 1, 1)]):
        segm = [poly(16 + 20 * k, 20 + 5 * i, 7, digits=1) for k in range(parts)]
        anns.append({"id": i, "image_id": img, "category_id": cat, "segmentation": segm,
                     "area": mask_area(segm, h, w), "bbox": mask_bbox(segm, h, w),
                     "iscrowd": 0})
    return {"info": {"description": None, "url": None, "version": None, "year": 2024,
                     "contributor": None, "date_created": "2024-05-01 10:00:00.000000"},
            "licenses": [{"url": None, "id": 0, "name": None}], "images": images,
            "type": "instances", "annotations": anns, "categories": cats}


def mmpose() -> dict:
    """COCO person keypoints as mmpose reads them: 17 points, segmentation + bbox + keypoints
    in one object, a crowd with RLE and no points, COCO-WholeBody's extra keys."""
    w, h = 120, 90
    kp = []
    for n in range(17):
        if n in (3, 4):
            kp += [0, 0, 0]
        elif n == 9:
            kp += [41, 57, 0]  # unlabelled, but with coordinates as some writers leave them
        else:
            kp += [int(30 + 2 * n), int(20 + 3 * n), 2 if n % 3 else 1]
    p = [poly(45, 45, 25, n=10)]
    m = blob(h, w)
    anns = [
        {"segmentation": p, "num_keypoints": 14, "area": mask_area(p, h, w), "iscrowd": 0,
         "keypoints": kp, "image_id": 785, "bbox": mask_bbox(p, h, w), "category_id": 1,
         "id": 442619, "foot_kpts": [0.0] * 18, "face_box": [0.0, 0.0, 0.0, 0.0],
         "lefthand_valid": False},
        {"segmentation": uncompressed(m), "num_keypoints": 0, "area": float(m.sum()),
         "iscrowd": 1, "keypoints": [0] * 51, "image_id": 785,
         "bbox": [float(v) for v in mu.toBbox(mu.encode(np.asfortranarray(m)))],
         "category_id": 1, "id": 900100785},
        {"segmentation": [poly(60, 40, 20, n=9)], "num_keypoints": 2, "area": 640.5,
         "iscrowd": 0, "keypoints": [50, 30, 2] + [0, 0, 0] * 15 + [70, 60, 1],
         "image_id": 872, "bbox": [40.0, 20.0, 40.0, 45.5], "category_id": 1, "id": 1201},
    ]
    return {"info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org",
                     "version": "1.0", "year": 2017, "contributor": "COCO Consortium",
                     "date_created": "2017/09/01"},
            "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
                          "name": "Attribution-NonCommercial-ShareAlike License"}],
            "images": [{"license": 1, "file_name": "000000000785.jpg",
                        "coco_url": "http://images.cocodataset.org/val2017/000000000785.jpg",
                        "height": h, "width": w, "date_captured": "2013-11-19 21:22:42",
                        "flickr_url": "http://farm8.staticflickr.com/7015/6795644157.jpg",
                        "id": 785},
                       {"license": 1, "file_name": "000000000872.jpg", "coco_url": "",
                        "height": h, "width": w, "date_captured": "2013-11-20 10:00:00",
                        "flickr_url": "", "id": 872}],
            "annotations": anns,
            "categories": [{"supercategory": "person", "id": 1, "name": "person",
                            "keypoints": COCO17, "skeleton": COCO_SKELETON}]}


def mmdet() -> tuple[dict, list]:
    """mmdetection's dataset converters (e.g. cityscapes/balloon to COCO): plain keys, a
    multi-part polygon, an ignored crowd; and a results file as its CocoMetric writes it."""
    w, h = 100, 80
    images = [{"file_name": f"leftImg8bit/val/{i:04d}.png", "height": h, "width": w, "id": i}
              for i in range(2)]
    anns = []
    for i in range(6):
        segm = [poly(20 + 12 * (i % 4), 25 + 15 * (i // 4), 9)]
        if i == 3:
            segm.append(poly(80, 60, 6))
        anns.append({"segmentation": segm, "area": mask_area(segm, h, w),
                     "iscrowd": 1 if i == 5 else 0, "image_id": i % 2,
                     "bbox": pts_bbox(segm, None), "category_id": 24 + i % 3, "id": i + 1})
    cats = [{"id": 24, "name": "person"}, {"id": 25, "name": "rider"},
            {"id": 26, "name": "car"}]
    dets = []
    for a in anns:
        x, y, bw, bh = a["bbox"]
        shift = 0.0 if a["id"] % 2 else 3.0
        dets.append({"image_id": a["image_id"], "bbox": [x + shift, y, bw, bh],
                     "score": 0.9 - 0.05 * a["id"], "category_id": a["category_id"]})
    dets.append({"image_id": 0, "bbox": [1.0, 1.0, 10.0, 10.0], "score": 0.95,
                 "category_id": 24})  # a false positive
    return {"images": images, "annotations": anns, "categories": cats}, dets


def mmtracking() -> dict:
    """mmtracking's CocoVID (mot2coco.py): 'videos', frames as images with frame_id from 0,
    instance_id, MOT's extra keys, iscrowd as a bool, 'num_instances'."""
    w, h = 64, 48
    images, anns = [], []
    for f in range(3):
        images.append({"file_name": f"MOT17-02-FRCNN/img1/{f + 1:06d}.jpg", "height": h,
                       "width": w, "id": f + 1, "frame_id": f, "video_id": 1,
                       "mot_frame_id": f + 1})
        for inst in range(2):
            anns.append({"category_id": 1, "bbox": [5.0 + 10 * inst + f, 8.0, 12.0, 20.0],
                         "area": 240.0, "iscrowd": False, "visibility": 0.75,
                         "mot_instance_id": inst + 1, "mot_conf": 1.0, "mot_class_id": 1,
                         "id": len(anns) + 1, "image_id": f + 1, "instance_id": inst})
    return {"categories": [{"id": 1, "name": "pedestrian"}],
            "videos": [{"id": 1, "name": "MOT17-02-FRCNN", "fps": 30, "width": w, "height": h}],
            "images": images, "annotations": anns, "num_instances": 2}


def roboflow() -> dict:
    """Roboflow's COCO export: ids from 0, a category 0 named after the dataset as the others'
    supercategory, dates, segmentation [] for boxes, polygons for instance projects."""
    w, h = 64, 64
    images = [{"id": i, "license": 1, "file_name": f"img{i}_jpg.rf.0a1b2c3d{i}.jpg",
               "height": h, "width": w, "date_captured": "2023-04-01T12:00:00+00:00"}
              for i in range(2)]
    anns = [{"id": 0, "image_id": 0, "category_id": 1, "bbox": [3, 4, 20.5, 11],
             "area": 225.5, "segmentation": [], "iscrowd": 0},
            {"id": 1, "image_id": 0, "category_id": 2, "bbox": [30, 30, 12, 14], "area": 168,
             "segmentation": [], "iscrowd": 0}]
    p = [poly(32, 20, 10)]
    anns.append({"id": 2, "image_id": 1, "category_id": 1, "bbox": pts_bbox(p),
                 "area": mask_area(p, h, w), "segmentation": p, "iscrowd": 0})
    return {"info": {"year": "2023", "version": "3", "description": "Exported from roboflow.com",
                     "contributor": "", "url": "https://public.roboflow.com/object-detection/x",
                     "date_created": "2023-04-01T12:00:00+00:00"},
            "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/",
                          "name": "CC BY 4.0"}],
            "categories": [{"id": 0, "name": "cells", "supercategory": "none"},
                           {"id": 1, "name": "rbc", "supercategory": "cells"},
                           {"id": 2, "name": "wbc", "supercategory": "cells"}],
            "images": images, "annotations": anns}


def panoptic() -> dict:
    return {"info": {}, "licenses": [],
            "images": [{"file_name": "a.jpg", "height": 20, "width": 20, "id": 1}],
            "annotations": [{"segments_info": [{"id": 3226956, "category_id": 1, "iscrowd": 0,
                                                "bbox": [1, 2, 3, 4], "area": 12}],
                             "file_name": "a.png", "image_id": 1}],
            "categories": [{"supercategory": "person", "isthing": 1, "id": 1, "name": "person",
                            "color": [220, 20, 60]}]}


def labelformat() -> dict:
    """lightly-ai/labelformat's COCO object-detection output: no annotation ids, no area, no
    iscrowd; images and categories with their four and two keys."""
    return {"images": [{"id": 0, "file_name": "a.jpg", "width": 50, "height": 40},
                       {"id": 1, "file_name": "sub/b.jpg", "width": 50, "height": 40}],
            "categories": [{"id": 0, "name": "cat"}, {"id": 1, "name": "dog"}],
            "annotations": [{"image_id": 0, "category_id": 0, "bbox": [1.0, 2.0, 10.0, 12.0]},
                            {"image_id": 1, "category_id": 1, "bbox": [5.5, 6.0, 20.0, 8.0],
                             "score": 0.87}]}


def crowdpose() -> dict:
    """CrowdPose: 14 keypoints but COCO's skeleton (1-based, up to 17), no segmentation or
    area, images with crowdIndex."""
    names = ["left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
             "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
             "right_ankle", "head", "neck"]
    kp = []
    for n in range(14):
        kp += [20 + 2 * n, 10 + 3 * n, 2] if n != 5 else [0, 0, 0]
    return {"images": [{"file_name": "100000.jpg", "id": 100000, "height": 64, "width": 64,
                        "crowdIndex": 0.09}],
            "annotations": [{"num_keypoints": 13, "iscrowd": 0, "keypoints": kp,
                             "image_id": 100000, "bbox": [18.0, 8.0, 30.0, 45.0],
                             "category_id": 1, "id": 123}],
            "categories": [{"supercategory": "person", "id": 1, "name": "person",
                            "keypoints": names, "skeleton": COCO_SKELETON}]}


def tao() -> dict:
    """TAO: LVIS categories, videos with metadata, frame_index, track_id, 'tracks'."""
    w, h = 64, 40
    cats = [{"frequency": "f", "id": 95, "synset": "car.n.01", "image_count": 1,
             "instance_count": 3, "synonyms": ["car", "auto"], "def": "a motor vehicle",
             "name": "car"},
            {"frequency": "r", "id": 805, "synset": "person.n.01", "image_count": 1,
             "instance_count": 1, "synonyms": ["person"], "def": "a human", "name": "person"}]
    video = "train/ArgoVerse/rear_right_315966"
    images, anns = [], []
    for f in range(2):
        images.append({"id": 10 + f, "video": video, "width": w, "height": h,
                       "frame_index": 30 * f, "license": 0, "video_id": 7,
                       "file_name": f"{video}/ring_rear_right_{f}.jpg"})
        anns.append({"segmentation": [], "bbox": [4.0 + f, 5.0, 20.0, 10.0], "area": 200.0,
                     "iscrowd": 0, "id": 100 + f, "image_id": 10 + f, "category_id": 95,
                     "track_id": 3, "_scale_uuid": "a3f4-0", "scale_category": "moving",
                     "video_id": 7})
    return {"videos": [{"id": 7, "name": video, "width": w, "height": h,
                        "neg_category_ids": [805], "not_exhaustive_category_ids": [],
                        "metadata": {"dataset": "ArgoVerse", "user_id": "x"}}],
            "annotations": anns, "tracks": [{"id": 3, "category_id": 95, "video_id": 7}],
            "images": images, "info": {"year": 2020, "version": "0.1.20200120"},
            "categories": cats, "licenses": [{"id": 0, "name": "unknown", "url": ""}]}


def youtube_vis() -> dict:
    """YouTube-VIS converted to CocoVID by mmtracking (youtubevis2coco.py): RLE masks with
    compressed counts, instance_id, frame_id."""
    w, h = 48, 40
    images, anns = [], []
    for f in range(2):
        images.append({"file_name": f"0b6b5d3e1c/{f * 5:05d}.jpg", "height": h, "width": w,
                       "id": f + 1, "frame_id": f, "video_id": 1})
        m = blob(h, w)
        anns.append({"id": f + 1, "video_id": 1, "image_id": f + 1, "category_id": 3,
                     "instance_id": 1, "bbox": [float(v) for v in mu.toBbox(
                         mu.encode(np.asfortranarray(m)))],
                     "segmentation": compressed(m), "area": float(m.sum()), "iscrowd": 0})
    return {"categories": [{"id": 3, "name": "cat"}],
            "videos": [{"id": 1, "name": "0b6b5d3e1c"}], "images": images, "annotations": anns}


def main() -> None:
    write("cvat.json", cvat())
    write("datumaro_instances.json", datumaro_instances())
    write("datumaro_labels.json", datumaro_labels())
    write("datumaro_captions.json", datumaro_captions())
    write("labelme2coco.json", labelme2coco())
    write("mmpose.json", mmpose())
    gt, dets = mmdet()
    write("mmdet.json", gt)
    write("mmdet_results.bbox.json", dets)
    write("mmtracking_cocovid.json", mmtracking())
    write("roboflow.json", roboflow())
    write("panoptic.json", panoptic())
    write("labelformat.json", labelformat())
    write("crowdpose.json", crowdpose())
    write("tao.json", tao())
    write("youtube_vis_cocovid.json", youtube_vis())


if __name__ == "__main__":
    main()
