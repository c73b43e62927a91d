"""The web layer shared by the services: problem+json rendering (more to follow)."""
