"""Readers and writers of media and label files. No Qt here."""
