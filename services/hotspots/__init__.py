"""The hotspots service: KDE and Gi* surface runs, road-casualty and water-safety sites, incident
imports, the OGC API and the analyst map (the module map is in ``api.py`` and ``main.py``)."""
