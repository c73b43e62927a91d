"""Pages and maps for people: the analyst map page, each run's folium map and its PNG overlay."""
