"""Linking a second series to the volume shown: the volume bar's "Link a series…" list (the
project's other volumes whose world boxes overlap this one), loading the chosen one off the UI
thread with both DICOM frame-of-reference UIDs, refusing in one sentence a series of another
frame of reference, and putting up / taking down the :class:`~app.widgets.volume.linked_view.
SeriesLink` (see that module for what a link shows)."""

from __future__ import annotations

from app.core.media import MediaItem, MediaKind
from app.io.volume.linked import frame_link, frame_of_reference_uid
from app.widgets.volume.linked_view import SeriesLink

PROMPT = "Link a series…"
NONE = "No other series to link"


def _uid(path, item: MediaItem) -> str:
    src = item.source
    if src is None or src.format != "dicom":
        return ""
    return frame_of_reference_uid(path, src.series_uid)


class Linking:
    """The presenter's linked series (at most one at a time)."""

    def __init__(self, presenter) -> None:
        self.p = presenter
        self.link: SeriesLink | None = None
        self.job = None
        presenter.view.link_chosen.connect(self.link_series)

    def candidates(self) -> list[MediaItem]:
        """The project's other volumes that may share this one's frame of reference (world
        boxes overlapping; the DICOM UIDs are checked when one is chosen)."""
        s = self.p.session
        doc = self.p.host.doc
        if s is None or doc is None:
            return []
        out = []
        for m in doc.media():
            if m.kind is MediaKind.VOLUME and m.id != s.item.id and not m.removed and \
                    m.volume is not None and frame_link(s.geometry, m.volume).linked:
                out.append(m)
        return out

    def offer(self) -> None:
        """Fill the bar's list with :meth:`candidates`."""
        combo = self.p.view.link_combo
        combo.clear()
        items = self.candidates()
        combo.addItem(PROMPT if items else NONE, "")
        for m in items:
            combo.addItem(m.name, m.id)
        combo.setEnabled(bool(items))

    def link_series(self, media_id: str) -> None:
        """Load volume ``media_id`` and link it to the one shown (its frame of reference
        checked first)."""
        from app.widgets.volume.presenter import load

        s, doc = self.p.session, self.p.host.doc
        item = doc.media_item(media_id) if s is not None and media_id else None
        if item is None:
            return
        self.cancel()
        self.unlink()
        a_item, a_path = s.item, doc.media_path(s.item).resolve()
        path, source = doc.media_path(item).resolve(), item.source

        def work(job):
            volume, _span, window = load(path, source, job, item.volume)
            return volume, window, _uid(a_path, a_item), _uid(path, item)

        self.p.host.message(f"Loading {item.name} to link it…")
        self.job = self.p.host.jobs.start(
            f"Linking {item.name}", work,
            on_done=lambda r, sid=s.item.id: self._loaded(sid, item, r),
            on_error=lambda exc: self._failed(item, exc))

    def _loaded(self, session_id: str, item: MediaItem, result) -> None:
        self.job = None
        s = self.p.session
        if s is None or s.item.id != session_id:
            return
        volume, window, uid_a, uid_b = result
        link = frame_link(s.geometry, volume.geometry, uid_a, uid_b, item.name)
        if not link.linked:
            self.p.host.message(link.sentence, 8000)
            self.offer()
            return
        self.link = SeriesLink(s, item, volume, link, window)
        self.link.closed.connect(self.unlink)
        self.p.view.set_linked(self.link.row)
        self.p.host.message(link.sentence, 6000)

    def _failed(self, item: MediaItem, exc: Exception) -> None:
        from app.core.errors import VellumError

        self.job = None
        text = str(exc) if isinstance(exc, VellumError) else \
            f"{item.name} cannot be linked ({exc})."
        self.p.host.message(text, 8000)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def unlink(self) -> None:
        """Take the linked series down (its array goes with it)."""
        if self.link is not None:
            link, self.link = self.link, None
            self.p.view.set_linked(None)
            link.close()
            if self.p.session is not None:
                self.offer()
