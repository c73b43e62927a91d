"""Boundary areas (the Medway outline, wards, LSOAs): stored, loaded, served and drawn on maps."""
