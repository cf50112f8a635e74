"""Plate model: calibration, forces, COP, weight distribution; IMU -> board tilt."""
