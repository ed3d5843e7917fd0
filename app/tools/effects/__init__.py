"""Segment Editor effects on a volume's label map (3D Slicer's Islands, Smoothing, Margin,
Hollow, Logical operators and Scissors): one module of pure numpy/SimpleITK arithmetic per
effect (``islands``, ``smoothing``, ``margin``, ``hollow``, ``logical``, ``scissors``; shared
helpers in ``morphology``), the framing that reads a segment's box and makes the one undoable edit
(``apply``), and the one tool that offers them in the options bar (``tool``)."""
