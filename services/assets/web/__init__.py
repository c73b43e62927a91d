"""Server-rendered pages of the assets service (review map, control room)."""
