"""Predictive policing service: grid self-exciting point process and baselines."""
