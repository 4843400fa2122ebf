"""`hmllm reproduce`: rerun published experiments and compare fresh numbers with committed ones.

Each folder ``experiments/<name>/`` holds ``experiment.yaml`` (the claim, the exact hmllm commands,
where each reported number is read, and the tolerance), the committed ``results.json`` and a
``results.md`` table. Reproduction runs the commands in a fresh data root (steps shared by several
experiments run once), reads the numbers, and prints a pass/fail table; any number outside its
tolerance, or missing, fails the run (exit status 1).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hmllm.errors import ConfigError, DataError
from hmllm.paths import resolve_path


@dataclass
class Experiment:
    """One published result: commands to run, numbers to read, how close they must come."""

    name: str
    folder: Path
    claim: str
    steps: list[list[str]]
    results: dict[str, dict[str, Any]]
    tolerance: dict[str, float]
    committed: dict[str, float] = field(default_factory=dict)


def load_experiment(folder: Path) -> Experiment:
    """Read ``experiment.yaml`` and ``results.json`` of one experiment folder."""
    spec_path = folder / "experiment.yaml"
    if not spec_path.is_file():
        raise ConfigError(f"{folder} has no experiment.yaml")
    spec = yaml.safe_load(spec_path.read_text()) or {}
    for key in ("claim", "steps", "results", "tolerance"):
        if key not in spec:
            raise ConfigError(f"{spec_path}: missing key {key!r}")
    steps = [[str(a) for a in step] for step in spec["steps"]]
    for step in steps:
        if not step or step[0] in ("reproduce", "serve"):
            raise ConfigError(f"{spec_path}: step {step} is not a runnable hmllm command")
    tol = spec["tolerance"]
    results = spec["results"]
    tolerance = (
        {k: float(tol) for k in results}
        if isinstance(tol, int | float)
        else {k: float(tol.get(k, tol.get("default", 0.0))) for k in results}
    )
    committed_path = folder / "results.json"
    committed = json.loads(committed_path.read_text()) if committed_path.is_file() else {}
    return Experiment(folder.name, folder, spec["claim"], steps, results, tolerance, committed)


def read_number(root: Path, where: dict[str, Any]) -> float:
    """Read one reported number below ``root``.

    ``where`` is ``{file, key}`` for JSON (``key`` a ``/``-separated path, since metric names
    contain dots; in a list, ``a=x&b=y`` picks the one item whose fields match) or ``{file, column, agg,
    query?}`` for a Parquet/TSV/CSV table (``agg`` one of mean, sum, min, max, count, or range =
    max − min, e.g. the gap between the best and the worst audience group).
    """
    path = root / where["file"]
    if not path.is_file():
        raise DataError(f"expected result file {path} was not written")
    if path.suffix == ".json":
        node: Any = json.loads(path.read_text())
        for part in str(where["key"]).split("/"):
            if isinstance(node, list) and "=" in part:  # the item whose fields match a=x&b=y
                want = dict(kv.split("=", 1) for kv in part.split("&"))
                hits = [n for n in node if all(str(n.get(k)) == v for k, v in want.items())]
                if len(hits) != 1:
                    raise DataError(f"{path}: {len(hits)} items match {part!r} in {where['key']!r}")
                node = hits[0]
            elif isinstance(node, list):
                node = node[int(part)]
            elif part in node:
                node = node[part]
            else:
                raise DataError(f"{path}: no key {where['key']!r} (stopped at {part!r})")
        return float(node)
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    if where.get("query"):
        df = df.query(where["query"])
    agg = where.get("agg", "mean")
    if agg not in ("mean", "sum", "min", "max", "count", "range"):
        raise ConfigError(f"unknown agg {agg!r} for {path}")
    col = df[where["column"]]
    return float(col.max() - col.min()) if agg == "range" else float(getattr(col, agg)())


def run_step(step: list[str], data_root: Path, log_dir: Path) -> float:
    """Run one ``hmllm`` command in a subprocess with the shared data root; returns seconds."""
    cmd = [sys.executable, "-m", "hmllm", *step, f"paths.data_root={data_root}"]
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / (
        "_".join(step[:1] + [a.replace("/", "-") for a in step[1:]])[:120] + ".log"
    )
    print(f"  $ hmllm {shlex.join(step)}", flush=True)
    t0 = time.perf_counter()
    with log_file.open("w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text().splitlines()[-15:])
        raise DataError(f"step `hmllm {shlex.join(step)}` failed (log: {log_file}):\n{tail}")
    return time.perf_counter() - t0


def compare(exp: Experiment, fresh: dict[str, float]) -> list[dict[str, Any]]:
    """Rows of the pass/fail table for one experiment."""
    rows = []
    for key in exp.results:
        new = fresh.get(key, float("nan"))
        old = exp.committed.get(key)
        tol = exp.tolerance[key]
        ok = old is not None and np.isfinite(new) and abs(new - float(old)) <= tol + 1e-12
        rows.append({"experiment": exp.name, "metric": key, "committed": old, "fresh": new,
                     "tolerance": tol, "ok": bool(ok)})  # fmt: skip
    return rows


def write_results(exp: Experiment, fresh: dict[str, float], seconds: float) -> None:
    """Write ``results.json`` and a ``results.md`` table (used with ``mode=update``)."""
    (exp.folder / "results.json").write_text(json.dumps(fresh, indent=2, sort_keys=True) + "\n")
    lines = [f"# {exp.name}", "", exp.claim.strip(), "", "| metric | value | tolerance |",
             "|---|---|---|"]  # fmt: skip
    lines += [f"| {k} | {v:.4f} | ±{exp.tolerance[k]:g} |" for k, v in fresh.items()]
    lines += ["", f"Regenerated by `hmllm reproduce {exp.name}` in {seconds:.0f} s."]
    (exp.folder / "results.md").write_text("\n".join(lines) + "\n")


def reproduce(names: list[str], experiments_dir: Path, data_root: Path, mode: str) -> bool:
    """Run experiments and compare (``mode=check``) or rewrite committed results (``update``)."""
    if mode not in ("check", "update"):
        raise ConfigError(f"reproduce.mode must be check or update, got {mode!r}")
    if not experiments_dir.is_dir():
        raise ConfigError(f"experiments directory {experiments_dir} does not exist")
    available = sorted(
        p.name for p in experiments_dir.iterdir() if (p / "experiment.yaml").is_file()
    )
    chosen = names or available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise ConfigError(f"unknown experiment(s) {unknown}; available: {available}")
    done: dict[tuple[str, ...], float] = {}
    rows: list[dict[str, Any]] = []
    for name in chosen:
        exp = load_experiment(experiments_dir / name)
        print(f"== {name}: {exp.claim.strip().splitlines()[0]}", flush=True)
        t0 = time.perf_counter()
        for step in exp.steps:
            if tuple(step) not in done:  # steps shared by experiments run once per reproduction
                done[tuple(step)] = run_step(step, data_root, data_root / "reproduce-logs")
        fresh = {k: read_number(data_root, w) for k, w in exp.results.items()}
        if mode == "update":
            write_results(exp, fresh, time.perf_counter() - t0)
            exp.committed = fresh
        rows += compare(exp, fresh)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    failed = table[~table["ok"]]
    print(f"\n{len(table) - len(failed)} passed, {len(failed)} failed")
    return failed.empty


def run(cfg) -> None:
    """CLI entry: ``hmllm reproduce [names=[a,b]] [reproduce.mode=update]``."""
    names = list(cfg.reproduce.names or [])
    experiments_dir = resolve_path(cfg.reproduce.experiments_dir)
    data_root = resolve_path(cfg.reproduce.data_root)
    data_root.mkdir(parents=True, exist_ok=True)
    if not reproduce(names, experiments_dir, data_root, cfg.reproduce.mode):
        raise SystemExit(1)
