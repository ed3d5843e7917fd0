"""The agreement report as one self-contained HTML page (``vellum compare --html``).

Tables of :func:`app.io.compare.compare`'s result and two kinds of plot drawn as inline SVG
by the small writer here (no script, no font or style sheet from elsewhere, no CDN: the page
opens offline in any browser): a bar chart of each item's agreement and, per pair, the class
confusion matrix as a heatmap. Every text from a project (names of items, classes,
annotators) is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BAR = "#2b7bb9"  # the bar chart's colour (the screenshot test looks for it)
HEAT = (230, 85, 13)  # the heatmap's full colour (#e6550d); 0 is white
GRID = "#888888"
MAX_BARS = 300  # items drawn in the bar chart (the table lists every one)

CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
h2 { margin-top: 28px; border-bottom: 1px solid #ddd; }
.note { color: #666; font-size: 13px; }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table (values formatted, escaped)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------------ the SVG writer
class Svg:
    """A tiny SVG writer: rectangles, lines and text, in user units = CSS pixels."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str,
             title: str | None = None, stroke: str | None = None) -> None:
        s = f' stroke="{stroke}"' if stroke else ""
        t = f"<title>{_e(title)}</title>" if title else ""
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
                          f'height="{max(h, 0):.1f}" fill="{fill}"{s}>{t}</rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str = GRID) -> None:
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{color}" stroke-width="1"/>')

    def text(self, x: float, y: float, s: str, anchor: str = "start", size: int = 11,
             rotate: float | None = None, color: str = "#222") -> None:
        r = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
                          f'text-anchor="{anchor}" fill="{color}"{r}>{_e(s)}</text>')

    def render(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" '
                f'height="{self.height:.0f}" viewBox="0 0 {self.width:.0f} {self.height:.0f}" '
                f'font-family="sans-serif">' + "".join(self.parts) + "</svg>")


def _short(s: str, n: int = 18) -> str:
    return s if len(s) <= n else s[:n - 1] + "…"


def bar_chart(labels: Sequence[str], values: Sequence[float | None],
              title: str = "Agreement per item") -> str:
    """Vertical bars of ``values`` in 0..1 (None: no bar, marked n/a), one per label."""
    n = max(1, len(labels))
    bw = max(14.0, min(48.0, 640.0 / n))
    left, top, plot_h, bottom = 48.0, 28.0, 220.0, 110.0
    svg = Svg(left + n * bw + 24, top + plot_h + bottom)
    svg.text(left, 16, title, size=13)
    for t in range(0, 11, 2):
        y = top + plot_h * (1 - t / 10)
        svg.line(left - 4, y, left + n * bw, y, "#dddddd")
        svg.text(left - 8, y + 4, f"{t / 10:.1f}", anchor="end")
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = left + i * bw
        if v is None:
            svg.text(x + bw / 2, top + plot_h - 4, "n/a", anchor="middle", size=9)
        else:
            h = plot_h * max(0.0, min(1.0, float(v)))
            svg.rect(x + 2, top + plot_h - h, bw - 4, h, BAR, title=f"{lab}: {v:.3f}")
        svg.text(x + bw / 2, top + plot_h + 12, _short(lab), anchor="end", rotate=-45, size=10)
    svg.line(left, top + plot_h, left + n * bw, top + plot_h, "#444444")
    svg.line(left, top, left, top + plot_h, "#444444")
    return svg.render()


def heat_colour(frac: float) -> str:
    """White (0) to the heatmap's colour (1)."""
    f = max(0.0, min(1.0, frac))
    r, g, b = (round(255 + (c - 255) * f) for c in HEAT)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(rows: Sequence[str], cols: Sequence[str], counts: Sequence[Sequence[int]],
            row_title: str, col_title: str) -> str:
    """A confusion matrix: a cell per (row, column), shaded by its count, count written."""
    cell = 36.0
    left, top = 130.0, 120.0
    svg = Svg(left + cell * len(cols) + 20, top + cell * len(rows) + 40)
    top_count = max([max(r) for r in counts if r] + [1])
    svg.text(left, 14, f"columns: {col_title}", size=11)
    svg.text(4, top - 8, f"rows: {row_title}", size=11)
    for c, name in enumerate(cols):
        x = left + c * cell + cell / 2
        svg.text(x, top - 6, _short(name, 14), anchor="start", rotate=-60, size=10)
    for r, name in enumerate(rows):
        y = top + r * cell
        svg.text(left - 6, y + cell / 2 + 4, _short(name), anchor="end", size=10)
        for c, v in enumerate(counts[r]):
            x = left + c * cell
            frac = v / top_count
            svg.rect(x, y, cell, cell, heat_colour(frac), title=f"{name} / {cols[c]}: {v}",
                     stroke="#ffffff")
            svg.text(x + cell / 2, y + cell / 2 + 4, str(v), anchor="middle", size=10,
                     color="#ffffff" if frac > 0.6 else "#222222")
    return svg.render()


# ------------------------------------------------------------------ the page
def render(result: dict[str, Any]) -> str:
    """The whole report page for a :func:`app.io.compare.compare` result."""
    out: list[str] = []
    a = out.append
    names = ", ".join(result["annotators"])
    a(f"<h1>Agreement: {_e(names)}</h1>")
    a(f"<p class='note'>Reference (ground truth where one is needed): "
      f"{_e(result['reference'])}. Objects matched per class by IoU &ge; "
      f"{result['iou_threshold']} (Hungarian assignment). {result['media']['compared']} "
      f"media item(s) compared.</p>")
    if result["media"]["missing"]:
        a("<h2>Items not in every project</h2>")
        a(table(["item", "in", "missing from"],
                [[m["item"], ", ".join(m["in"]), ", ".join(m["missing_from"])]
                 for m in result["media"]["missing"]]))
    a("<h2>Agreement per item</h2>")
    items = result["per_item"]
    shown = items
    if len(items) > MAX_BARS:  # the least agreeing ones, in item order
        low = sorted(range(len(items)), key=lambda n: (items[n]["agreement"] is None,
                                                       items[n]["agreement"] or 0.0))
        shown = [items[n] for n in sorted(low[:MAX_BARS])]
    a(bar_chart([r["item"] for r in shown], [r["agreement"] for r in shown],
                "Agreement per item" if shown is items else
                f"Agreement per item: the {MAX_BARS} lowest of {len(items)}"))
    pair_names = [p["pair"] for p in result["pairs"]]
    rows = []
    for r in items:
        for pn in pair_names:
            p = r["pairs"].get(pn, {})
            rows.append([r["item"], r["kind"], pn, p.get("f1"), p.get("mean_iou"),
                         p.get("dice"), p.get("tags_agree"), p.get("agreement")])
    a(table(["item", "kind", "pair", "F1", "mean IoU", "Dice", "tags agree", "agreement"],
            rows))
    for p in result["pairs"]:
        a(f"<h2>{_e(p['pair'])}</h2>")
        o = p["objects"]
        a("<h3>Objects (boxes, polygons, masks)</h3>")
        cols = ["reference_objects", "other_objects", "matches", "precision", "recall", "f1",
                "mean_iou"]
        a(table(["class", "reference", "other", "matched", "precision", "recall", "F1",
                 "mean IoU"], [["all"] + [o[c] for c in cols]]
                + [[r["class"]] + [r[c] for c in cols] for r in p["per_class"]]))
        coco = p["coco"]
        if "unavailable" in coco:
            a(f"<p class='note'>{_e(coco['unavailable'])}</p>")
        else:
            a(table(["COCO (pycocotools)", "mAP .50:.95", "AP50", "AP75"],
                    [[k, (coco.get(k) or {}).get("map"), (coco.get(k) or {}).get("ap50"),
                      (coco.get(k) or {}).get("ap75")] for k in ("bbox", "segm")]))
        conf = p["confusion"]
        if any(any(r) for r in conf["counts"]):
            a("<h3>Class confusion</h3>")
            a(heatmap(conf["rows"], conf["columns"], conf["counts"], p["reference"],
                      p["other"]))
        if p["masks"]:
            a("<h3>Masks and label maps</h3>")
            a(table(["class", "item", "place", "Dice", "Jaccard", "HD95 (mm)",
                     "Hausdorff (mm)", "volume diff", "note"],
                    [[m["class"], r["item"], r["place"], r["dice"], r["jaccard"],
                      r["hd95_mm"], r["hausdorff_mm"], r["volume_difference"],
                      r.get("note", "")]
                     for m in p["masks"] for r in m["items"]]))
        if p["keypoints"]:
            a("<h3>Keypoints</h3>")
            a(table(["class", "matched", "mean OKS"],
                    [[k["class"], k["matches"], k["mean_oks"]] for k in p["keypoints"]]))
        t = p["tracks"]
        if t:
            a("<h3>Video tracks (motmetrics)</h3>")
            if "unavailable" in t:
                a(f"<p class='note'>{_e(t['unavailable'])}</p>")
            else:
                a(table(["MOTA", "IDF1", "ID switches", "misses", "false positives",
                         "objects"], [[t["mota"], t["idf1"], t["switches"], t["misses"],
                                       t["false_positives"], t["objects"]]]))
    if result["classifications"]:
        a("<h2>Classifications and attributes</h2>")
        rows = []
        for q in result["classifications"]:
            for pr in q["pairs"]:
                rows.append([q["question"], q["units"], pr["pair"], pr["units"],
                             pr["percent_agreement"], pr["cohen_kappa"], q["fleiss_kappa"],
                             q["krippendorff_alpha"]])
        a(table(["question", "units", "pair", "rated by both", "agreement", "Cohen's kappa",
                 "Fleiss' kappa", "Krippendorff's alpha"], rows))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Vellum agreement: {_e(names)}</title><style>{CSS}</style></head>"
            "<body>" + "\n".join(out) + "</body></html>\n")


def write_report(result: dict[str, Any], target: Path) -> None:
    """Write the page to ``target`` atomically (the caller has checked it through
    :func:`app.io.outputs.prepare_output`)."""
    from app.io.atomic import atomic_write

    with atomic_write(target) as f:
        f.write(render(result))
