"""Recommendations: advice for the SEG from each camera's evidence over a window."""
