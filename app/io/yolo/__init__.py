"""YOLO datasets (Ultralytics and darknet layouts): :mod:`.reader` (``plan_yolo``) and
:mod:`.writer` (``export_yolo``); conventions in :mod:`.common`. Registered as the ``yolo``
format by :mod:`app.io.formats.yolo`."""
