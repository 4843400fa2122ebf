"""Audio per shot: loudness and a speech-activity proxy, decoded with PyAV (no torchaudio).

The track is decoded once per ad (mono, at the file's own rate) and every feature is computed
from two whole-track arrays — the mean square of 10-ms blocks and the magnitude spectra of short
frames — that each shot then only slices (:func:`shot_audio_features`).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from av.stream import Discard
from scipy.fft import next_fast_len, rfft


def _to_mono(frame: av.AudioFrame) -> np.ndarray:
    """The channel mean of a decoded frame, float32 in ±1 (planar or packed, float or integer)."""
    arr = frame.to_ndarray()  # planar: (channels, n); packed: (1, n * channels)
    if not frame.format.is_planar:
        arr = arr.reshape(-1, len(frame.layout.channels)).T
    if arr.dtype.kind == "f":
        return arr[0].astype(np.float32) if len(arr) == 1 else arr.mean(0, dtype=np.float32)
    x = arr.mean(0, dtype=np.float64)
    if arr.dtype.kind == "u":  # unsigned 8-bit: silence is 128
        return ((x - 128) / 128).astype(np.float32)
    return (x / 2.0 ** (8 * arr.dtype.itemsize - 1)).astype(np.float32)


def _decode_mono(path: Path, *, one_pass: bool) -> tuple[np.ndarray, int] | None:
    """Mono float32 samples at the stream's own rate and that rate (Hz); ``None`` without audio.

    ``one_pass`` gathers all frames in one FIFO and converts them in a single NumPy call (an
    FFmpeg resampler, even one that keeps the rate, took a third of the audio time). Without it,
    frames are converted one by one and any whose rate differs from the first frame's is
    resampled to it. Every other stream is discarded at the demuxer, which then skips the
    video's packets instead of reading them.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        audio = container.streams.audio[0]
        for stream in container.streams:
            if stream.index != audio.index:
                stream.discard = Discard.all
        rate = audio.codec_context.sample_rate
        fifo, chunks, resampler = av.AudioFifo() if one_pass else None, [], None
        for frame in container.decode(audio):
            if fifo is not None:
                frame.pts = None  # the FIFO checks timestamp continuity; gaps must not abort
                fifo.write(frame)  # ValueError when the format/layout/rate changes midway
            elif frame.sample_rate == rate:
                chunks.append(_to_mono(frame))
            else:
                resampler = resampler or av.AudioResampler(format="flt", layout="mono", rate=rate)
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    if fifo is not None and fifo.samples:
        chunks.append(_to_mono(fifo.read()))
    if resampler is not None:
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), int(rate)


def load_audio(path: str | Path) -> tuple[np.ndarray, int] | None:
    """The first audio stream as mono float32 at its own sampling rate, and that rate (Hz).

    ``None`` when the file has no audio stream. No resampling: :func:`shot_audio_features`
    works at any rate. The decoded frames are gathered in one FIFO and down-mixed (channel mean)
    in a single call; a stream whose sample format, layout or rate changes midway is decoded
    again and converted frame by frame (at the rate the stream starts with).
    """
    try:
        return _decode_mono(Path(path), one_pass=True)
    except ValueError:
        return _decode_mono(Path(path), one_pass=False)


def shot_audio_features(
    x: np.ndarray,
    rate_hz: int,
    onset_s: np.ndarray,
    offset_s: np.ndarray,
    *,
    frame_s: float,
    max_hz: float,
    envelope_hop_s: float = 0.01,
    speech_band_hz: tuple[float, float] = (2.0, 8.0),
    modulation_band_hz: tuple[float, float] = (0.5, 20.0),
    min_duration_s: float = 0.1,
    silence_db: float = -60.0,
) -> dict[str, np.ndarray]:
    """Loudness, speech activity, spectral centroid and flatness of each shot's audio.

    Parameters
    ----------
    x
        The ad's mono audio, shape ``(n_samples,)``, full scale ±1 (:func:`load_audio`); empty
        when the ad has no sound.
    rate_hz
        Sampling rate of ``x`` in Hz (any: every length below is in seconds or Hz).
    onset_s, offset_s
        Shot boundaries in seconds from the start of ``x``, shape ``(n_shots,)``.
    frame_s
        Length of the spectrum frames in seconds (Hann-windowed, not overlapping; rounded up to
        a fast FFT length).
    max_hz
        Highest frequency (Hz) the spectral centroid and flatness look at, so the same sound
        gives the same values whatever rate it was recorded at.
    envelope_hop_s
        Block length of the RMS amplitude envelope in seconds (its rate is ``1 / envelope_hop_s``).
    speech_band_hz
        Envelope modulation band of syllables, Hz.
    modulation_band_hz
        Envelope modulation band the speech share is taken of, Hz.
    min_duration_s
        Shots with less audio than this (s) get the silent values.
    silence_db
        Floor of the loudness (dBFS); shots within 10 dB of it get no speech activity.

    Returns
    -------
    dict of numpy.ndarray
        ``(n_shots,)`` float64 arrays: ``loudness_db`` (RMS over the shot's envelope blocks, dBFS),
        ``speech_activity`` (share of the envelope's modulation energy in ``speech_band_hz``: high
        for speech, low for steady music or silence, 0–1), ``spectral_centroid_hz`` (of the
        shot's mean magnitude spectrum up to ``max_hz``) and ``spectral_flatness`` (geometric over
        arithmetic mean of that spectrum, 0–1).
    """
    n_shots = len(onset_s)
    out = {"loudness_db": np.full(n_shots, silence_db), "speech_activity": np.zeros(n_shots),
           "spectral_centroid_hz": np.zeros(n_shots), "spectral_flatness": np.zeros(n_shots)}  # fmt: skip
    if x.size == 0:
        return out
    hop = max(1, int(round(envelope_hop_s * rate_hz)))
    n_fft = next_fast_len(max(16, int(round(frame_s * rate_hz))), real=True)
    # whole track, computed once: mean square of envelope_hop_s blocks (the envelope) and the
    # magnitude spectra of frame_s frames up to max_hz
    n_hops = x.size // hop
    block_ms = np.square(x[: n_hops * hop]).reshape(n_hops, hop).mean(1, dtype=np.float64)
    n_frames = x.size // n_fft
    window = np.hanning(n_fft).astype(np.float32)
    mag = np.abs(rfft(x[: n_frames * n_fft].reshape(n_frames, n_fft) * window, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1 / rate_hz)
    band = freqs <= max_hz
    mag, freqs = mag[:, band], freqs[band]  # (n_frames, n_bins)
    env_rate, (lo, hi) = rate_hz / hop, speech_band_hz
    a = np.asarray(onset_s, float) * rate_hz
    b = np.minimum(np.asarray(offset_s, float) * rate_hz, x.size)
    for k in range(n_shots):
        ms = block_ms[int(np.ceil(a[k] / hop)) : int(b[k] // hop)]  # the blocks inside the shot
        if b[k] - a[k] < min_duration_s * rate_hz or ms.size == 0:
            continue
        loud = max(silence_db, 10 * np.log10(ms.mean() + 1e-24))
        out["loudness_db"][k] = loud
        if loud > silence_db + 10:
            e = np.sqrt(ms)
            power = np.abs(np.fft.rfft(e - e.mean())) ** 2
            f = np.fft.rfftfreq(e.size, 1 / env_rate)
            total = power[(f > modulation_band_hz[0]) & (f < modulation_band_hz[1])].sum()
            out["speech_activity"][k] = power[(f >= lo) & (f <= hi)].sum() / (total + 1e-12)
        spec = mag[int(np.ceil(a[k] / n_fft)) : int(b[k] // n_fft)]  # the frames inside the shot
        if len(spec) == 0:  # the shot is shorter than one frame: its samples, zero-padded
            seg = x[int(a[k]) : int(b[k])]
            spec = np.abs(rfft(seg * np.hanning(seg.size).astype(np.float32), n_fft))[None, band]
        spec = spec.mean(0)
        out["spectral_centroid_hz"][k] = (spec * freqs).sum() / (spec.sum() + 1e-12)
        out["spectral_flatness"][k] = np.exp(np.log(spec + 1e-12).mean()) / (spec.mean() + 1e-12)
    return out
