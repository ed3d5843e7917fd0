"""The volume mode: three linked panes (axial, coronal, sagittal) of a CT or MR volume with
window/level, a crosshair, and label-map segmentation (brush and eraser in mm, intensity range,
flood fill, fill between slices). Importing this package registers the mode with the window."""

from app.core.media import MediaKind
from app.widgets import modes
from app.widgets.volume.presenter import VolumePresenter

modes.register(MediaKind.VOLUME, "volume", VolumePresenter)
