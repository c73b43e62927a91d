"""Diagnostics of stored lists: visit coverage, boxes per ward, day-to-day stability."""
