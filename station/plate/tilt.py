"""Wobble-board tilt from the BNO08x game rotation vector.

The tilt is read from gravity as seen by the board (g_b = R^T e_z), which ignores the heading
drift of the game rotation vector. Levelling stores the rotation that takes the gravity seen
with the board held level onto the board's vertical, so an IMU mounted a little crooked still
reads zero when the board is level. Roll = rotation about y, positive right side down; pitch =
rotation about x, positive front down (design.md). Radians inside.
"""

from __future__ import annotations

import numpy as np


def gravity_in_board(quats_wxyz: np.ndarray) -> np.ndarray:
    """World 'up' expressed in the board frame, (N, 3), from unit quaternions (N, 4)."""
    q = np.asarray(quats_wxyz, dtype=float)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    # third row of R (= R^T e_z)
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def levelling_matrix(quats_wxyz: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking the mean gravity seen while level onto +z (Rodrigues)."""
    g = gravity_in_board(np.atleast_2d(quats_wxyz)).mean(axis=0)
    g = g / np.linalg.norm(g)
    v = np.cross(g, [0.0, 0.0, 1.0])
    c = float(g[2])
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def board_tilt(quats_wxyz: np.ndarray, level: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) [roll, pitch] in radians, relative to the levelled pose."""
    g = gravity_in_board(np.atleast_2d(quats_wxyz))
    if level is not None:
        g = g @ np.asarray(level).T
    roll = np.arcsin(np.clip(-g[:, 0], -1.0, 1.0))
    pitch = np.arctan2(-g[:, 1], g[:, 2])
    return np.column_stack([roll, pitch])
