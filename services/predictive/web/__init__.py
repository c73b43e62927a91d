"""Pages for people: the printable daily list with its map."""
