"""Safety sites: road-casualty cluster sites (``road``), the water-safety site register
(``water``) and their routes (``api``)."""
