"""Drills: assessments and training games as state machines over plate samples."""
