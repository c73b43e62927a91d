"""Cameras: the register of camera positions, their devices, positions and audit trail."""
