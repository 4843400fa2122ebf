"""Audio per shot: loudness and a speech-activity proxy, decoded with PyAV (no torchaudio)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def load_audio(path: str | Path, rate_hz: int) -> np.ndarray | None:
    """Mono float32 audio resampled to ``rate_hz``; ``None`` when the file has no audio stream."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_hz)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def audio_features(x: np.ndarray, rate_hz: int, *, silence_db: float = -60.0) -> dict[str, float]:
    """Loudness (RMS dBFS), speech activity, spectral centroid (Hz) and flatness of a segment.

    Speech activity is the share of the amplitude envelope's modulation energy in the 2–8 Hz
    syllable band — high for speech, low for steady music or silence.
    """
    if x.size < rate_hz // 10:
        return {"loudness_db": silence_db, "speech_activity": 0.0, "spectral_centroid_hz": 0.0,
                "spectral_flatness": 0.0}  # fmt: skip
    rms = float(np.sqrt(np.mean(x**2)))
    loud = max(silence_db, 20 * np.log10(rms + 1e-12))
    hop = rate_hz // 100  # 10 ms envelope
    env = np.sqrt(np.convolve(x**2, np.ones(hop) / hop, mode="valid")[::hop])
    env = env - env.mean()
    spec = np.abs(np.fft.rfft(env)) ** 2
    f = np.fft.rfftfreq(env.size, 1 / 100)
    total = spec[(f > 0.5) & (f < 20)].sum() + 1e-12
    speech = float(spec[(f >= 2) & (f <= 8)].sum() / total) if loud > silence_db + 10 else 0.0
    mag = np.abs(np.fft.rfft(x[: min(x.size, 8 * rate_hz)]))
    freqs = np.fft.rfftfreq(min(x.size, 8 * rate_hz), 1 / rate_hz)
    centroid = float((mag * freqs).sum() / (mag.sum() + 1e-12))
    flat = float(np.exp(np.mean(np.log(mag + 1e-12))) / (mag.mean() + 1e-12))
    return {"loudness_db": float(loud), "speech_activity": speech, "spectral_centroid_hz": centroid,
            "spectral_flatness": flat}  # fmt: skip
