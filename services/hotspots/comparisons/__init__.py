"""Comparisons of two periods: where hotspots appeared, grew, shrank or went."""
