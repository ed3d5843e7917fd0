"""Vellum: offline annotation of images, video and medical volumes."""

__version__ = "0.1.0"
