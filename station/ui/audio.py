"""Cues and audio biofeedback through pygame.mixer.

Tones are synthesised once at start (numpy sine waves) and kept as Sounds. Cue tones get a
5 ms fade at both ends (no click). Biofeedback tones loop, so each buffer holds a whole number
of cycles: the loop joins without a click. Biofeedback maps how far the patient is from where
they should be (0 = on target, 1 = far) to one of a few pitches, changing only when the band
changes. With no audio device the station stays silent and says so once in the log.
"""

from __future__ import annotations

import logging

import numpy as np
import pygame

log = logging.getLogger(__name__)

#: Known cue names (drills put these in Display.sounds); unknown names get a short neutral blip.
CUES: dict[str, list[tuple[float, float]]] = {       # (frequency Hz, seconds) segments
    "countdown": [(660.0, 0.12)],
    "start": [(880.0, 0.35)],
    "stop": [(660.0, 0.15), (440.0, 0.3)],
    "fault": [(330.0, 0.25), (0.0, 0.08), (330.0, 0.25)],
    "hit": [(1046.5, 0.12)],
    "miss": [(262.0, 0.2)],
    "tap": [(1200.0, 0.02)],
}
FEEDBACK_BANDS = 8
FEEDBACK_HZ = (330.0, 880.0)          # on target -> far


def pre_init() -> None:
    """Before pygame.init(): a small buffer keeps cue latency near 10 ms."""
    pygame.mixer.pre_init(44100, -16, 2, 512)          # stereo: biofeedback pans


class Audio:
    def __init__(self, enabled: bool = True, volume: float = 0.7) -> None:
        self.enabled = enabled
        self.volume = volume
        self.feedback_on = False          # the target-distance tone (a setting)
        self._cues: dict[str, pygame.mixer.Sound] = {}
        self._loops: list[pygame.mixer.Sound] = []
        self._band: int | None = None
        self._tones: dict[int, pygame.mixer.Sound] = {}
        self._tone_key: int | None = None
        self._channel: pygame.mixer.Channel | None = None
        self.played: list[str] = []           # the last cues, for tests and the log
        self.ok = False
        try:
            if not pygame.mixer.get_init():
                pygame.mixer.init()
            self._rate, _, self._channels = pygame.mixer.get_init()
            self.ok = True
        except pygame.error as exc:
            log.warning("no audio output (%s): the station will be silent", exc)
            return
        for name, segments in CUES.items():
            self._cues[name] = self._sound(np.concatenate([self._tone(f, s) for f, s in segments]))
        self._cues["other"] = self._sound(self._tone(700.0, 0.08))
        lo, hi = FEEDBACK_HZ
        for i in range(FEEDBACK_BANDS):
            f = lo * (hi / lo) ** (i / (FEEDBACK_BANDS - 1))
            self._loops.append(self._sound(self._loop(f)))
        self._channel = pygame.mixer.Channel(0)
        pygame.mixer.set_reserved(1)

    def _tone(self, freq: float, seconds: float) -> np.ndarray:
        n = round(self._rate * seconds)
        t = np.arange(n) / self._rate
        wave = np.zeros(n) if freq <= 0 else np.sin(2 * np.pi * freq * t)
        ramp = min(n // 2, round(0.005 * self._rate))
        if ramp:
            env = np.ones(n)
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] = np.linspace(1, 0, ramp)
            wave *= env
        return wave

    def _loop(self, freq: float, seconds: float = 0.25) -> np.ndarray:
        cycles = max(1, round(freq * seconds))
        n = round(cycles * self._rate / freq)
        return np.sin(2 * np.pi * cycles * np.arange(n) / n)

    def _sound(self, wave: np.ndarray) -> pygame.mixer.Sound:
        pcm = (wave * 0.6 * 32767).astype(np.int16)
        if self._channels > 1:
            pcm = np.repeat(pcm[:, None], self._channels, axis=1)
        return pygame.sndarray.make_sound(np.ascontiguousarray(pcm))

    def play(self, name: str) -> None:
        self.played = [*self.played[-19:], name]
        if not (self.ok and self.enabled):
            return
        sound = self._cues.get(name, self._cues["other"])
        sound.set_volume(self.volume)
        sound.play()

    def feedback(self, distance: float | None) -> None:
        """Biofeedback: ``distance`` 0 (on target) .. 1 (far); None silences it."""
        if not (self.ok and self.enabled and self.feedback_on) or distance is None:
            self._set_band(None)
            return
        d = min(max(distance, 0.0), 1.0)
        self._set_band(min(FEEDBACK_BANDS - 1, int(d * FEEDBACK_BANDS)))

    def _set_band(self, band: int | None) -> None:
        if band == self._band or self._channel is None:
            return
        self._tone_key = None
        self._band = band
        if band is None:
            self._channel.stop()
            return
        sound = self._loops[band]
        sound.set_volume(self.volume * (0.3 + 0.7 * band / (FEEDBACK_BANDS - 1)))
        self._channel.play(sound, loops=-1)

    def tone(self, spec: dict[str, float] | None) -> None:
        """A drill's own biofeedback tone: {"freq_hz", "pan" -1..1, "volume" 0..1} or None.

        It is part of the drill (an eyes-closed game is played by ear), so it plays whenever
        sound is on. Frequencies snap to semitones, so a slowly changing pitch reuses a few
        cached loops; pan is constant-power (cos/sin), as drills.audio_feedback renders it."""
        if not (self.ok and self.enabled) or not spec or self._channel is None or \
                float(spec.get("volume", 0.0)) <= 0.0:
            self._stop_tone()
            return
        self._band = None
        freq = min(max(float(spec.get("freq_hz", 440.0)), 80.0), 4000.0)
        key = round(12 * np.log2(freq / 440.0))
        sound = self._tones.get(key)
        if sound is None:
            sound = self._tones[key] = self._sound(self._loop(440.0 * 2 ** (key / 12)))
        vol = min(max(float(spec.get("volume", 0.5)), 0.0), 1.0) * self.volume
        pan = min(max(float(spec.get("pan", 0.0)), -1.0), 1.0)
        if key != self._tone_key:
            self._tone_key = key
            self._channel.play(sound, loops=-1)
        angle = (pan + 1.0) * np.pi / 4.0
        self._channel.set_volume(vol * float(np.cos(angle)), vol * float(np.sin(angle)))

    def _stop_tone(self) -> None:
        if self._tone_key is not None and self._channel is not None:
            self._channel.stop()
        self._tone_key = None

    def silence(self) -> None:
        self._stop_tone()
        self._set_band(None)
