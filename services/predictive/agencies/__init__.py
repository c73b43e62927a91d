"""Agencies and areas: each agency's list settings and area, the district outline and wards."""
