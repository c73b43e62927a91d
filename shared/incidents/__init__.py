"""Shared incidents: parsers for police, STATS19, water, fire and generic incident files."""
