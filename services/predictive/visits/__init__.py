"""Visits: crews logging that they patrolled a box of a list, and reading them back."""
