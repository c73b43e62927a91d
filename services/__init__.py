"""The three services: assets, hotspots, predictive (each owns a Postgres schema)."""
