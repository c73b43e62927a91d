"""Daily lists: making, storing and reading each agency's ranked target boxes for a date."""
