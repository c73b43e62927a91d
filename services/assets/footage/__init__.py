"""Footage requests: police requests for a camera's footage and their outcomes."""
