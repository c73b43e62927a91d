"""Predictive service: daily target boxes per agency from a grid self-exciting model and baselines.

Domains (each ``service.py`` of keyword-only use cases and an ``api.py`` router): ``agencies``
(settings, areas, boundaries), ``lists`` (making and reading daily lists), ``visits`` and
``diagnostics``. ``compute`` is pure numerics; ``web`` the list page; ``tasks`` the nightly job.
"""
