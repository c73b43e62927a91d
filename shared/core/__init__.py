"""Core tables shared by all services: API tokens."""
