"""Bounded load on loopback: N uploads from M clients against `hmllm serve`, killed and restarted midway.

The server runs as a real `hmllm serve` subprocess (Hydra config, uvicorn, SQLite store). When half
of the uploads have been accepted it is killed with SIGKILL (a crash, not a clean stop) and started
again on the same data folder; clients retry refused connections. At the end every accepted job must
be `done`: "jobs lost" counts accepted jobs that are missing or not done.

    python bench/serve_load.py                          # 50 uploads, 10 clients, dry-run scorer
    python bench/serve_load.py --uploads 20 --clients 4 --no-restart
    python bench/serve_load.py --scorer score --checkpoint runs/default/best.pt --audiences female_26-30

Prints throughput (uploads/s, jobs/s), latency percentiles (upload request and submit→done), jobs
done/lost, and restart recovery time (kill → healthy, and healthy → requeued jobs running again).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

TOKEN = "bench-token-0123456789abcdef"
_MAX_TRIES = 600  # connection retries per upload, 0.1 s apart (covers a restart of ~60 s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_videos(folder: Path, n: int, *, seed: int = 0) -> list[Path]:
    """Write ``n`` distinct small H.264 mp4s (distinct bytes: uploads are content-addressed)."""
    import av

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        path = folder / f"ad_{k:03d}.mp4"
        with av.open(str(path), mode="w", format="mp4") as c:
            s = c.add_stream("libx264", rate=10)
            s.width = s.height = 64
            s.pix_fmt = "yuv420p"
            colours = rng.integers(0, 255, size=(3, 3), dtype=np.uint8)
            for i in range(30):  # 3 s at 10 fps, colour changes each second
                img = np.empty((64, 64, 3), np.uint8)
                img[:] = colours[i // 10]
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        out.append(path)
    return out


class Server:
    """A `hmllm serve` subprocess on a fixed port and data root."""

    def __init__(self, data_root: Path, port: int, args: argparse.Namespace) -> None:
        self.port, self.proc = port, None
        hmllm = Path(sys.executable).with_name("hmllm")
        self.cmd = [
            str(hmllm), "serve", f"paths.data_root={data_root}", f"serve.port={port}",
            f"serve.workers={args.workers}", f"serve.scorer={args.scorer}",
            f"serve.audiences=[{','.join(args.audiences)}]", "serve.poll_interval_s=0.2",
            f"serve.dryrun_seconds_per_video={args.score_s}",
            "hydra.job_logging.root.level=WARNING", "hydra/hydra_logging=disabled",
        ]  # fmt: skip
        if args.checkpoint:
            self.cmd.append(f"serve.checkpoint={args.checkpoint}")
        self.env = {**os.environ, "HMLLM_TOKENS": f"{TOKEN}:bench"}
        self.log = open(data_root / "server.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self, timeout_s: float = 60.0) -> float:
        """Start and wait until /api/health answers; return seconds taken."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.log, stderr=self.log)
        while time.perf_counter() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see server.log")
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=1).status_code
                    == 200
                ):
                    return time.perf_counter() - t0
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def kill(self) -> None:
        """SIGKILL: the worst case — no shutdown hook runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def run_load(args: argparse.Namespace, data_root: Path) -> dict:
    """Run the whole scenario and return the figures."""
    base = f"http://127.0.0.1:{args.port or _free_port()}"
    port = int(base.rsplit(":", 1)[1])
    videos = make_videos(data_root, args.uploads, seed=args.seed)
    server = Server(data_root, port, args)
    first_start_s = server.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    accepted: dict[str, float] = {}  # job id -> submit time
    upload_lat: list[float] = []
    retries = 0
    lock = threading.Lock()
    half = threading.Event()
    restart: dict[str, float] = {}

    def submit(video: Path) -> None:
        nonlocal retries
        with httpx.Client(timeout=60) as client:
            for _ in range(_MAX_TRIES):  # retried while the server is down (~0.1 s apart)
                try:
                    t0 = time.perf_counter()
                    with open(video, "rb") as f:
                        r = client.post(f"{base}/api/jobs", headers=headers,
                                        files={"file": (video.name, f, "video/mp4")},
                                        data={"audiences": args.audiences})  # fmt: skip
                    if r.status_code != 202:
                        raise RuntimeError(f"{video.name}: HTTP {r.status_code} {r.text}")
                    with lock:
                        accepted[r.json()["id"]] = t0
                        upload_lat.append(time.perf_counter() - t0)
                        if len(accepted) >= args.uploads // 2:
                            half.set()
                    return
                except httpx.TransportError:
                    with lock:
                        retries += 1
                    time.sleep(0.1)
            raise RuntimeError(f"{video.name}: server unreachable after {_MAX_TRIES} tries")

    def crash_and_restart() -> None:
        half.wait()
        counts = httpx.get(f"{base}/api/health", timeout=5).json()["jobs"]
        restart["in_flight_at_kill"] = counts["queued"] + counts["running"]
        restart["running_at_kill"] = counts["running"]
        t_kill = time.perf_counter()
        server.kill()
        restart["healthy_s"] = server.start()
        restart["kill_to_healthy_s"] = time.perf_counter() - t_kill
        restart["requeued"] = httpx.get(f"{base}/api/health", timeout=5).json()["requeued_at_start"]

    t_start = time.perf_counter()
    restarter = threading.Thread(target=crash_and_restart, daemon=True) if args.restart else None
    if restarter:
        restarter.start()
    with ThreadPoolExecutor(args.clients) as pool:
        for fut in [pool.submit(submit, v) for v in videos]:
            fut.result()
    t_uploaded = time.perf_counter()
    if restarter:
        restarter.join()

    done_at: dict[str, float] = {}
    statuses: dict[str, str] = {}
    deadline = time.perf_counter() + args.timeout_s
    with httpx.Client(timeout=30) as client:
        while time.perf_counter() < deadline:
            jobs = {
                j["id"]: j for j in client.get(f"{base}/api/jobs", headers=headers).json()["jobs"]
            }
            now = time.perf_counter()
            for jid in accepted:
                st = jobs.get(jid, {}).get("status", "missing")
                statuses[jid] = st
                if st in ("done", "failed") and jid not in done_at:
                    done_at[jid] = now
            if all(s in ("done", "failed") for s in statuses.values()):
                break
            time.sleep(0.1)
    t_end = time.perf_counter()
    server.stop()

    e2e = [done_at[j] - accepted[j] for j in done_at]
    n_done = sum(s == "done" for s in statuses.values())
    return {
        "uploads": args.uploads, "clients": args.clients, "workers": args.workers, "scorer": args.scorer,
        "accepted": len(accepted), "done": n_done,
        "failed": sum(s == "failed" for s in statuses.values()),
        "lost": args.uploads - n_done,
        "connection_retries": retries,
        "first_start_s": round(first_start_s, 2),
        "restart": {k: round(v, 2) for k, v in restart.items()},
        "upload_phase_s": round(t_uploaded - t_start, 2),
        "total_s": round(t_end - t_start, 2),
        "uploads_per_s": round(len(accepted) / (t_uploaded - t_start), 2),
        "jobs_per_s": round(n_done / (t_end - t_start), 2),
        "upload_latency_ms": {f"p{q}": round(1000 * float(np.percentile(upload_lat, q)), 1) for q in (50, 95)},
        "submit_to_done_s": {f"p{q}": round(float(np.percentile(e2e, q)), 2) for q in (50, 95)} if e2e else {},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=50, help="number of uploads (distinct videos)")
    ap.add_argument("--clients", type=int, default=10, help="concurrent client threads")
    ap.add_argument("--workers", type=int, default=2, help="serve.workers (scoring concurrency)")
    ap.add_argument("--scorer", default="dryrun", choices=["dryrun", "score"])
    ap.add_argument(
        "--score-s", type=float, default=0.3, help="dry-run: simulated model s per video"
    )
    ap.add_argument("--checkpoint", default=None, help="checkpoint for --scorer score")
    ap.add_argument("--audiences", nargs="+", default=["female_26-30", "male_18-25"])
    ap.add_argument(
        "--no-restart", dest="restart", action="store_false", help="skip the mid-run kill"
    )
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument(
        "--timeout-s", type=float, default=600.0, help="give up waiting for jobs after this"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the generated videos")
    ap.add_argument("--data-root", default=None, help="keep the run here (default: a temp folder)")
    args = ap.parse_args(argv)
    if args.data_root:
        Path(args.data_root).mkdir(parents=True, exist_ok=True)
        figures = run_load(args, Path(args.data_root))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run_load(args, Path(tmp))
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    figures = main()
    raise SystemExit(0 if figures["lost"] == 0 else 1)
