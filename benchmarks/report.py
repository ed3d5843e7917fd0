"""Printing benchmark rows: our figure beside the peer's, measured in the same run."""

from __future__ import annotations


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n== {title} ==")
    print(f"{'measurement':<48} {'ours (ms)':>10} {'peer (ms)':>10}  peer / notes")
    for r in rows:
        ours = f"{r['ours_ms']:.2f}" if r.get("ours_ms") is not None else "-"
        peer = f"{r['peer_ms']:.2f}" if r.get("peer_ms") is not None else "-"
        print(f"{r['name']:<48} {ours:>10} {peer:>10}  {r.get('peer', '')}"
              + (f"; {r['notes']}" if r.get("notes") else ""))
