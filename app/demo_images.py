"""Procedural pictures for the demo project (numpy + OpenCV, deterministic, no downloads).

Each painter returns an RGB uint8 image and the geometry of what it drew, in the project's
continuous pixel coordinates (x = column, y = row, origin at the top-left pixel's corner), so
that the demo's annotations fit the pictures exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

CAR_COLORS = {"red": (200, 40, 40), "blue": (40, 80, 200), "white": (235, 235, 235),
              "black": (30, 30, 35)}


@dataclass
class Scene:
    """A painted picture and its objects: ``objects`` are (class name, shape kind, geometry,
    attributes) tuples; geometry is a dict whose keys depend on the kind."""

    rgb: np.ndarray
    objects: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def _vgradient(h: int, w: int, top: tuple[int, int, int], bottom: tuple[int, int, int]
               ) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.repeat(img, w, axis=1).astype(np.uint8)


def _noise(img: np.ndarray, rng: np.random.Generator, amount: float = 6.0) -> np.ndarray:
    n = rng.normal(0.0, amount, img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def _pts(points: list[tuple[float, float]]) -> np.ndarray:
    return np.round(np.array(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)


def _car(img: np.ndarray, x: int, y: int, w: int, h: int, color: tuple[int, int, int]) -> None:
    """Side view of a car whose bounding box is [x, x+w) x [y, y+h)."""
    body_top = y + int(h * 0.38)
    cv2.rectangle(img, (x, body_top), (x + w - 1, y + int(h * 0.8)), color, -1)
    roof = [(x + int(w * 0.2), body_top), (x + int(w * 0.32), y), (x + int(w * 0.7), y),
            (x + int(w * 0.82), body_top)]
    cv2.fillPoly(img, [_pts(roof)], color)
    win = [(x + int(w * 0.27), body_top - 2), (x + int(w * 0.35), y + int(h * 0.08)),
           (x + int(w * 0.67), y + int(h * 0.08)), (x + int(w * 0.76), body_top - 2)]
    cv2.fillPoly(img, [_pts(win)], (150, 190, 220))
    r = int(h * 0.2)
    for cx in (x + int(w * 0.22), x + int(w * 0.78)):
        cv2.circle(img, (cx, y + h - r - 1), r, (20, 20, 20), -1)
        cv2.circle(img, (cx, y + h - r - 1), r // 2, (160, 160, 160), -1)


def _person(img: np.ndarray, x: float, y: float, s: float, color: tuple[int, int, int],
            walking: bool) -> list[tuple[float, float, int]]:
    """Stick figure with feet at (x, y + s); returns its 7 keypoints (x, y, v=2)."""
    head = (x, y + 0.1 * s)
    neck = (x, y + 0.24 * s)
    pelvis = (x, y + 0.6 * s)
    spread = 0.16 * s if walking else 0.07 * s
    l_hand, r_hand = (x - 0.2 * s, y + 0.5 * s), (x + 0.2 * s, y + 0.5 * s)
    l_foot, r_foot = (x - spread, y + s), (x + spread, y + s)
    t = max(2, int(s * 0.05))
    for a, b in ((neck, pelvis), (neck, l_hand), (neck, r_hand), (pelvis, l_foot),
                 (pelvis, r_foot)):
        cv2.line(img, tuple(map(round, a)), tuple(map(round, b)), color, t, cv2.LINE_AA)
    cv2.circle(img, tuple(map(round, head)), int(0.1 * s), color, -1, cv2.LINE_AA)
    return [(px + 0.5, py + 0.5, 2) for px, py in (head, neck, l_hand, r_hand, pelvis, l_foot,
                                                    r_foot)]


def street(w: int, h: int, seed: int, cars: int, people: int) -> Scene:
    """A street: sky, buildings, a road in perspective with lane markings, cars and people."""
    rng = np.random.default_rng(seed)
    horizon = int(h * 0.45)
    img = np.zeros((h, w, 3), np.uint8)
    img[:horizon] = _vgradient(horizon, w, (90, 150, 230), (190, 215, 240))
    img[horizon:] = _vgradient(h - horizon, w, (110, 140, 90), (70, 110, 60))
    sky = np.zeros((h, w), bool)
    sky[:horizon] = True
    scene = Scene(img)
    x = 0
    while x < w:  # buildings along the horizon
        bw, bh = int(rng.integers(w // 14, w // 7)), int(rng.integers(h // 10, h // 3))
        shade = int(rng.integers(90, 170))
        top = horizon - bh
        cv2.rectangle(img, (x, top), (min(w, x + bw) - 1, horizon - 1),
                      (shade, shade - 10, shade - 25), -1)
        sky[top:horizon, x:min(w, x + bw)] = False
        for wy in range(top + 8, horizon - 12, 18):
            for wx in range(x + 6, min(w, x + bw) - 10, 16):
                cv2.rectangle(img, (wx, wy), (wx + 7, wy + 9), (250, 230, 150)
                              if rng.random() < 0.3 else (60, 70, 90), -1)
        if bh > h // 5 and rng.random() < 0.6:
            scene.objects.append(("building", "polygon", {"points": [
                (x, top), (min(w, x + bw), top), (min(w, x + bw), horizon), (x, horizon)]},
                {"floors": float(max(1, bh // 18))}))
        x += bw + int(rng.integers(0, w // 40))
    road = [(w * 0.42, horizon), (w * 0.58, horizon), (w * 1.0, h), (0.0, h)]
    cv2.fillPoly(img, [_pts(road)], (85, 85, 90))
    scene.objects.append(("road", "polygon", {"points": road}, {"surface": "asphalt"}))
    for frac in (0.5,):  # centre dashed line in perspective
        pts = [(w * (0.5 + (frac - 0.5) * t), horizon + (h - horizon) * t)
               for t in np.linspace(0.02, 1.0, 9)]
        for a, b in zip(pts[::2], pts[1::2]):
            cv2.line(img, tuple(map(round, a)), tuple(map(round, b)), (240, 240, 240),
                     max(2, w // 300), cv2.LINE_AA)
        scene.objects.append(("lane", "polyline", {"points": [pts[0], pts[-1]]},
                              {"dashed": True}))
    for side in (0.0, 1.0):  # solid edge lines
        pts = [(w * (0.42 + 0.16 * side) + (w * side - w * (0.42 + 0.16 * side)) * t,
                horizon + (h - horizon) * t) for t in (0.0, 0.5, 1.0)]
        cv2.polylines(img, [_pts(pts)], False, (235, 220, 90), max(2, w // 250), cv2.LINE_AA)
        scene.objects.append(("lane", "polyline", {"points": pts}, {"dashed": False}))
    for i in range(cars):
        t = (i + 1) / (cars + 1)
        cy = horizon + (h - horizon) * (0.25 + 0.55 * t)
        scale = (cy - horizon) / (h - horizon)
        cw, ch = int(w * 0.22 * scale + 30), int(h * 0.12 * scale + 14)
        cx = int(w * (0.2 + 0.55 * rng.random()))
        name = list(CAR_COLORS)[i % len(CAR_COLORS)]
        _car(img, cx - cw // 2, int(cy) - ch, cw, ch, CAR_COLORS[name])
        scene.objects.append(("car", "box", {"x": cx - cw // 2, "y": int(cy) - ch, "w": cw,
                                             "h": ch},
                              {"color": name, "truncated": False, "parked": bool(i % 2)}))
    for i in range(people):
        px = w * (0.08 + 0.84 * (i + 0.5) / people)
        s = h * (0.16 + 0.08 * rng.random())
        py = h - s - h * 0.08 * rng.random() - 4
        walking = bool(i % 2)
        kps = _person(img, px, py, s, (40, 30, 30) if i % 2 else (120, 20, 90), walking)
        scene.objects.append(("person", "keypoints", {"points": kps},
                              {"pose": "walking" if walking else "standing", "height_m": 1.75}))
    sky &= (img[..., 2] > 150)  # building and roofs already excluded; keeps a clean sky
    scene.objects.append(("sky", "mask", {"mask": sky}, {}))
    scene.objects.append(("weather", "tag", {}, {"condition": "clear", "notes": "demo"}))
    scene.rgb = _noise(img, rng, 3.0)
    return scene


def parking(w: int, h: int, seed: int) -> Scene:
    """An aerial parking lot with cars at angles (rotated boxes)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (95, 95, 100), np.uint8)
    scene = Scene(img)
    for row in range(3):
        y0 = int(h * (0.12 + 0.3 * row))
        for col in range(7):
            x0 = int(w * (0.07 + 0.13 * col))
            cv2.line(img, (x0, y0), (x0 + int(w * 0.05), y0 + int(h * 0.2)), (240, 240, 240), 3)
            if rng.random() < 0.75:
                cw, ch = w * 0.045, h * 0.15
                cx, cy = x0 + w * 0.07, y0 + h * 0.1
                angle = float(rng.uniform(12, 22))
                name = list(CAR_COLORS)[int(rng.integers(0, 4))]
                rect = ((cx, cy), (cw, ch), angle)
                box = cv2.boxPoints(rect)
                cv2.fillPoly(img, [_pts([tuple(p) for p in box])], CAR_COLORS[name])
                inner = cv2.boxPoints(((cx, cy - ch * 0.1), (cw * 0.8, ch * 0.3), angle))
                cv2.fillPoly(img, [_pts([tuple(p) for p in inner])], (120, 160, 190))
                scene.objects.append(("car", "rotated_box", {"cx": cx, "cy": cy, "w": cw,
                                                             "h": ch, "angle": angle},
                                      {"color": name, "truncated": False, "parked": True}))
    scene.objects.append(("weather", "tag", {}, {"condition": "cloudy", "notes": ""}))
    scene.rgb = _noise(img, rng, 5.0)
    return scene


def shapes(w: int, h: int, seed: int) -> Scene:
    """Signs and trees over a gradient: boxes, polygons and a tree mask."""
    rng = np.random.default_rng(seed)
    img = _vgradient(h, w, (235, 225, 200), (170, 190, 150))
    scene = Scene(img)
    for i in range(3):
        x, y, s = int(w * (0.1 + 0.3 * i)), int(h * 0.15), int(min(w, h) * 0.18)
        cv2.rectangle(img, (x, y), (x + s - 1, y + s // 2 - 1), (30, 110, 60), -1)
        cv2.putText(img, ["STOP", "EXIT", "A1"][i], (x + 8, y + s // 3), cv2.FONT_HERSHEY_SIMPLEX,
                    s / 140, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.line(img, (x + s // 2, y + s // 2), (x + s // 2, int(h * 0.9)), (90, 90, 90), 4)
        scene.objects.append(("sign", "box", {"x": x, "y": y, "w": s, "h": s // 2},
                              {"text": ["STOP", "EXIT", "A1"][i]}))
    tree = np.zeros((h, w), np.uint8)
    cx, cy, r = int(w * 0.8), int(h * 0.55), int(min(w, h) * 0.16)
    for k in range(7):
        a = 2 * math.pi * k / 7
        cv2.circle(tree, (int(cx + r * 0.6 * math.cos(a)), int(cy + r * 0.6 * math.sin(a))),
                   int(r * 0.6), 1, -1)
    cv2.circle(tree, (cx, cy), int(r * 0.6), 1, -1)  # no gap in the middle of the crown
    img[tree > 0] = (40, 120, 50)
    cv2.rectangle(img, (cx - 8, cy + r), (cx + 8, int(h * 0.95)), (90, 60, 30), -1)
    scene.objects.append(("tree", "mask", {"mask": tree > 0}, {}))
    tri = [(w * 0.15, h * 0.92), (w * 0.3, h * 0.6), (w * 0.45, h * 0.92)]
    cv2.fillPoly(img, [_pts(tri)], (46, 110, 58))  # a young fir
    scene.objects.append(("tree", "polygon", {"points": tri}, {}))
    scene.rgb = _noise(img, rng, 2.0)
    return scene


def title_card(w: int, h: int) -> Scene:
    """Text and a colour wheel: an unlabeled item."""
    img = _vgradient(h, w, (30, 30, 60), (10, 10, 20))
    cv2.putText(img, "Vellum demo", (int(w * 0.08), int(h * 0.3)), cv2.FONT_HERSHEY_DUPLEX,
                w / 500, (240, 240, 255), 2, cv2.LINE_AA)
    cv2.putText(img, "every tool, offline", (int(w * 0.08), int(h * 0.42)),
                cv2.FONT_HERSHEY_SIMPLEX, w / 900, (170, 180, 220), 1, cv2.LINE_AA)
    for k in range(12):
        hue = np.uint8([[[k * 15, 220, 240]]])
        rgb = cv2.cvtColor(hue, cv2.COLOR_HSV2RGB)[0, 0].tolist()
        a = 2 * math.pi * k / 12
        cv2.circle(img, (int(w * 0.7 + h * 0.22 * math.cos(a)), int(h * 0.65 + h * 0.22
                                                                     * math.sin(a))),
                   int(h * 0.06), rgb, -1, cv2.LINE_AA)
    return Scene(img)
