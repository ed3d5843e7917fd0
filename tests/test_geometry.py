"""Typed media geometry: the one voxel_to_world against SimpleITK, RAS affines against nibabel
+ SimpleITK, panes by nearest patient axis, and the records stored and reloaded."""

from __future__ import annotations

import math
from fractions import Fraction

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from app.core.commands import Put
from app.core.document import Document
from app.core.geometry import VideoGeometry, VolumeGeometry
from app.core.media import FrameTimes, MediaItem, MediaKind, VolumeSource


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = (math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay),
                              math.cos(az), math.sin(az))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


OBLIQUE = VolumeGeometry((30, 40, 50), (0.5, 0.7, 2.5), (-120.5, 33.25, 87.0),
                         tuple(map(tuple, _rotation(0.2, -0.1, 0.35))))


def _sitk(g: VolumeGeometry) -> sitk.Image:
    img = sitk.Image(g.shape[2], g.shape[1], g.shape[0], sitk.sitkUInt8)
    img.SetSpacing(g.spacing)
    img.SetOrigin(g.origin)
    img.SetDirection(np.asarray(g.direction).ravel().tolist())
    return img


def test_voxel_to_world_equals_simpleitk():
    img = _sitk(OBLIQUE)
    rng = np.random.default_rng(0)
    for ijk in rng.uniform(-5, 60, (20, 3)):
        ours = OBLIQUE.voxel_to_world(ijk)
        theirs = img.TransformContinuousIndexToPhysicalPoint(ijk.tolist())
        assert np.allclose(ours, theirs, atol=1e-9)
        assert np.allclose(OBLIQUE.world_to_voxel(ours), ijk, atol=1e-9)
    # many points at once
    pts = rng.uniform(0, 30, (100, 3))
    assert np.allclose(OBLIQUE.world_to_voxel(OBLIQUE.voxel_to_world(pts)), pts)


def test_ras_affine_written_by_nibabel_reads_back_in_lps_with_simpleitk(tmp_path):
    data = np.zeros(OBLIQUE.shape[::-1], np.uint8)  # NIfTI is (i, j, k)
    img = nib.Nifti1Image(data, OBLIQUE.affine_ras())
    img.set_qform(OBLIQUE.affine_ras(), code=1)
    img.set_sform(OBLIQUE.affine_ras(), code=1)
    path = tmp_path / "g.nii.gz"
    nib.save(img, path)
    back = sitk.ReadImage(str(path))
    assert np.allclose(back.GetOrigin(), OBLIQUE.origin, atol=1e-4)
    assert np.allclose(back.GetSpacing(), OBLIQUE.spacing, atol=1e-5)
    assert np.allclose(np.asarray(back.GetDirection()).reshape(3, 3), OBLIQUE.direction,
                       atol=1e-5)
    again = VolumeGeometry.from_affine_ras(OBLIQUE.shape, nib.load(path).affine)
    assert np.allclose(again.affine_lps(), OBLIQUE.affine_lps(), atol=1e-4)


def test_panes_follow_the_nearest_patient_axis_and_say_oblique():
    axial = VolumeGeometry((10, 20, 30))
    assert {p: a.axis for p, a in axial.panes().items()} == {
        "axial": "k", "coronal": "j", "sagittal": "i"}
    assert not any(a.oblique for a in axial.panes().values())
    # a sagittal acquisition (slices along patient L): still axial in the axial pane
    sag = VolumeGeometry((10, 20, 30), direction=((0, 0, 1), (1, 0, 0), (0, -1, 0)))
    assert {p: a.axis for p, a in sag.panes().items()} == {
        "sagittal": "k", "coronal": "i", "axial": "j"}
    tilted = VolumeGeometry((10, 20, 30), direction=tuple(map(tuple, _rotation(math.radians(12),
                                                                              0, 0))))
    panes = tilted.panes()
    assert panes["axial"].axis == "k" and panes["axial"].oblique
    assert math.isclose(panes["axial"].angle_deg, 12, abs_tol=1e-6)
    assert not panes["sagittal"].oblique


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match="positive size"):
        VolumeGeometry((0, 5, 5))
    with pytest.raises(ValueError, match="spacing"):
        VolumeGeometry((1, 5, 5), (1, -1, 1))
    with pytest.raises(ValueError, match="unit"):
        VolumeGeometry((1, 5, 5), direction=((2, 0, 0), (0, 1, 0), (0, 0, 1)))
    with pytest.raises(ValueError, match="rotation"):
        VideoGeometry(10, 64, 48, rotation=45)


def test_geometry_and_frame_times_are_stored_typed(tmp_path):
    doc = Document.create(tmp_path / "p")
    video = MediaItem(kind=MediaKind.VIDEO, path="v.mp4", fingerprint="f", size_bytes=1,
                      width=0, height=0,
                      video=VideoGeometry(4, 272, 640, rotation=90, time_base=Fraction(1, 12800),
                                          avg_fps=25.0, nominal_fps=25.0, duration_s=0.16,
                                          is_vfr=True, codec="h264", pix_fmt="yuv420p"))
    volume = MediaItem(kind=MediaKind.VOLUME, path="ct", fingerprint="g", size_bytes=1,
                       width=0, height=0, volume=OBLIQUE,
                       source=VolumeSource("dicom", "1.2.3", "CT", "HEAD", 0))
    times = FrameTimes(video.id, (0, 512, 1100, 1536), (0.0, 0.04, 0.0859375, 0.12),
                       (True, False, False, False))
    doc.execute(Put((video, volume, times)))
    assert (video.width, video.height, video.frames) == (272, 640, 4)
    assert volume.volume_shape == (30, 40, 50) and volume.frames == 30
    doc.close()
    with Document.open(tmp_path / "p") as doc:
        v, g = doc.media_item(video.id), doc.media_item(volume.id)
        assert v.video == video.video and g.volume == volume.volume and g.source == volume.source
        assert np.allclose(g.volume.voxel_to_world((1, 2, 3)), OBLIQUE.voxel_to_world((1, 2, 3)))
        assert doc.frame_times(video.id) == times


def test_adding_a_video_stores_its_frame_times_and_annotations_get_them(tmp_path, shared_data):
    import shutil

    from app.core.annotations import Annotation
    from app.core.places import Place
    from app.core.shapes import Box
    from app.io.ingest import add_media

    doc = Document.create(tmp_path / "p")
    shutil.copy(shared_data / "video" / "vfr_h264.mkv", tmp_path / "p" / "v.mkv")
    add_media(doc, [tmp_path / "p" / "v.mkv"])
    (video,) = doc.media()
    times = doc.frame_times(video.id)
    assert len(times.seconds) == video.frames == 240 and times.seconds[0] == 0.0
    assert all(b > a for a, b in zip(times.seconds, times.seconds[1:]))  # VFR, increasing
    a = Annotation(Place(video.id, 100), Box(0, 0, 4, 4))
    doc.execute(Put((a,)))
    assert doc.annotation(video.id, a.id).timestamp == times.seconds[100]
    doc.close()


def test_a_gantry_tilted_stack_says_oblique_on_the_axial_pane():
    """GE-style gantry tilt: rows along L, columns tilted 18.5° about L, slices stepping
    straight along the table (S). The axial pane shows the tilted (i, j) plane: the oblique
    note is there, not on the coronal pane, whose (i, k) plane is a true coronal one."""
    t = math.radians(18.5)
    col = (0.0, math.cos(t), -math.sin(t))
    shear = VolumeGeometry((28, 512, 512), (0.5, 0.5, 4.0), (0, 0, 0),
                           direction=((1, 0, 0), (0, col[1], 0), (0, col[2], 1)))
    panes = shear.panes()
    assert {p: a.axis for p, a in panes.items()} == {
        "axial": "k", "coronal": "j", "sagittal": "i"}
    assert panes["axial"].oblique and math.isclose(panes["axial"].angle_deg, 18.5, abs_tol=1e-6)
    assert not panes["coronal"].oblique and not panes["sagittal"].oblique
