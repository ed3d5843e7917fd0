"""Vellum: offline annotation of images, video and medical volumes."""

from app import _offline

_offline.install()  # before any library that probes the network stack is imported

__version__ = "0.1.0"
