"""Pure numerics of the predictive service: the method registry, ETAS, baselines, selection, areas.

Nothing here imports SQLAlchemy, FastAPI or Celery: arrays, ``Events`` and a ``Grid`` in,
arrays and dataclasses out.
"""
