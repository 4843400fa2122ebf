"""The FastAPI app: HTML pages for creative testers and the same actions as a JSON API.

Pages: ``/`` upload (drag-and-drop, progress bar, audience choice), ``/jobs`` history,
``/jobs/{id}`` status + embedded report, ``/compare?a=&b=`` two reports side by side, ``/login``.
API: ``POST /api/jobs`` (multipart: ``file`` + repeated ``audiences``), ``GET /api/jobs``,
``GET /api/jobs/{id}``, ``GET /api/jobs/{id}/result``, ``GET /api/audiences``, ``GET /api/health``;
OpenAPI docs at ``/docs``.

Nothing from a request is executed or used as configuration: audiences are checked against the
checkpoint's groups, files are stored under their sha256, names are sanitised and only displayed
(escaped by Jinja2's autoescape).
"""
# No `from __future__ import annotations` here: FastAPI must resolve the route annotations, which
# name dependencies defined inside create_app.

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hmllm.errors import ConfigError
from hmllm.serve.auth import COOKIE, TokenAuth, load_tokens
from hmllm.serve.settings import ServeSettings
from hmllm.serve.sniff import UnsupportedMedia, probe_video, sanitize_filename
from hmllm.serve.store import Job, JobStore, Upload
from hmllm.serve.worker import Scorer, Worker

log = logging.getLogger("hmllm.serve")
_HERE = Path(__file__).parent
_CHUNK_BYTES = 1 << 20  # copy/hash uploads 1 MiB at a time
_FORM_MAX_BYTES = 64 * 1024  # largest login form body, bytes
# Our pages load scripts only from /static: an injected <script> would not run even if escaping failed.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)


def _default_scorer(settings: ServeSettings) -> Scorer:
    if settings.scorer == "dryrun":
        from functools import partial

        from hmllm.serve.dryrun import dryrun_score

        return partial(dryrun_score, seconds_per_video=settings.dryrun_seconds_per_video)
    from hmllm.score import score_ads

    return score_ads


def _checkpoint_groups(settings: ServeSettings) -> list[str]:
    if settings.audiences is not None:
        return list(settings.audiences)
    if settings.checkpoint is None or not Path(settings.checkpoint).is_file():
        raise ConfigError(
            f"serve.checkpoint={str(settings.checkpoint)!r} does not exist; train one "
            "(`hmllm train`) or list the audiences in serve.audiences."
        )
    from hmllm.model.predict import load_predictor

    return list(load_predictor(settings.checkpoint).groups)


def create_app(
    settings: ServeSettings,
    *,
    scorer: Scorer | None = None,
    start_worker: bool = True,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings : ServeSettings
        Folders, limits, tokens, concurrency (never changed by requests).
    scorer : callable, optional
        ``scorer(videos, audiences, *, checkpoint, out_dir, cfg)``; default from ``settings.scorer``
        (the real ``hmllm.score.score_ads``).
    start_worker : bool
        Start the scoring threads with the app (tests may drive ``app.state.worker`` by hand).

    Returns
    -------
    FastAPI
        The app; ``app.state.store`` and ``app.state.worker`` expose the job store and worker.
    """
    for d in (
        settings.data_dir,
        settings.uploads_dir,
        settings.results_dir,
        settings.data_dir / "tmp",
    ):
        d.mkdir(parents=True, exist_ok=True)
    for stale in (settings.data_dir / "tmp").iterdir():  # half-received uploads of a stopped server
        stale.unlink(missing_ok=True)
    auth = TokenAuth(load_tokens(settings.tokens_file))
    if not auth.users:
        log.warning(
            "no API tokens configured (serve.tokens_file / HMLLM_TOKENS): nobody can log in"
        )
    groups = _checkpoint_groups(settings)
    store = JobStore(settings.db_path, max_attempts=settings.max_attempts)
    if store.requeued:
        log.info("requeued %d job(s) left running by the previous server", store.requeued)
    worker = Worker(store, scorer or _default_scorer(settings), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        if start_worker:
            worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    app = FastAPI(
        title="hmllm serve",
        summary="Upload a video ad, pick audiences, get the per-shot response report.",
        lifespan=lifespan,
    )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 413:  # Starlette says only "Content Too Large": name the setting
            exc = StarletteHTTPException(
                413,
                f"upload larger than serve.max_upload_mb ({settings.max_upload_bytes / 2**20:g} MiB)",
            )
        return await http_exception_handler(request, exc)

    app.state.store, app.state.worker, app.state.settings, app.state.groups = (
        store,
        worker,
        settings,
        groups,
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["utc"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_upload_bytes:
            # Refused before one byte is read, with a message naming the setting; bodies without
            # a Content-Length are cut off mid-stream by the route's max_body_size (also 413).
            return JSONResponse(
                {
                    "detail": f"upload larger than serve.max_upload_mb ({settings.max_upload_bytes / 2**20:g} MiB)"
                },
                status_code=413,
                headers={"Connection": "close"},
            )
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        path = request.url.path
        # Reports (under /files/) carry their own inline scripts; /docs loads Swagger UI's assets.
        report = path.startswith("/jobs/") and "/files/" in path
        if not report and path not in ("/docs", "/redoc"):
            response.headers.setdefault("Content-Security-Policy", _CSP)
        return response

    # ---- authentication -------------------------------------------------------------------
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.cookies.get(COOKIE)

    def api_user(request: Request) -> str:
        user = auth.user_for(_token(request))
        if user is None:
            raise HTTPException(
                401,
                "missing or invalid API token (send `Authorization: Bearer <token>`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user

    def page_user(request: Request) -> str | None:
        return auth.user_for(_token(request))

    def _login_redirect() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    def _own_job(job_id: str, user: str) -> Job:
        job = store.get_job(job_id, user=user)
        if job is None:  # someone else's job looks exactly like a missing one
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    def _page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, ctx)

    # ---- uploads --------------------------------------------------------------------------
    def _ingest(upload: UploadFile) -> tuple[Upload, str]:
        """Hash + store the file content-addressed and sniff it (runs in a worker thread)."""
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=settings.data_dir / "tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := upload.file.read(_CHUNK_BYTES):
                    size += len(chunk)
                    if size > settings.max_upload_bytes:
                        raise HTTPException(413, "upload larger than serve.max_upload_mb")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise HTTPException(422, "the uploaded file is empty")
            try:
                info = probe_video(
                    tmp,
                    allowed_containers=settings.allowed_containers,
                    allowed_codecs=settings.allowed_codecs,
                    max_duration_s=settings.max_duration_s,
                )
            except UnsupportedMedia as exc:
                raise HTTPException(415, str(exc)) from None
            sha = digest.hexdigest()
            rel = Path("uploads") / sha[:2] / sha
            dest = settings.data_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                os.replace(tmp, dest)
            up = Upload(sha, size, info.container, info.codec, info.duration_s, rel.as_posix())
            store.add_upload(up)
            return up, sanitize_filename(upload.filename)
        finally:
            tmp.unlink(missing_ok=True)

    def _check_audiences(audiences: list[str]) -> list[str]:
        chosen = [a.strip() for a in audiences if a.strip()] or list(groups)
        unknown = [a for a in chosen if a not in groups]
        if unknown:
            raise HTTPException(
                422, f"unknown audience(s) {unknown}; choose from {groups} (GET /api/audiences)"
            )
        return list(dict.fromkeys(chosen))

    # ---- API ------------------------------------------------------------------------------
    @app.get("/api/health", tags=["api"])
    def health() -> dict:
        """Liveness, job counts per status, and jobs requeued at start-up (no authentication)."""
        return {"ok": True, "jobs": store.counts(), "requeued_at_start": store.requeued}

    @app.get("/api/audiences", tags=["api"])
    def list_audiences(user: Annotated[str, Depends(api_user)]) -> dict:
        """The audience ids this server's checkpoint can predict for."""
        return {"audiences": groups}

    # FastAPI/Starlette's body limit counts bytes as they stream in (and refuses a too-large
    # Content-Length before reading), so an oversized upload is never held whole anywhere.
    @app.post("/api/jobs", status_code=202, tags=["api"], max_body_size=settings.max_upload_bytes)
    async def submit(
        user: Annotated[str, Depends(api_user)],
        file: Annotated[
            UploadFile, File(description="the video ad (container sniffed from bytes)")
        ],
        audiences: Annotated[list[str], Form(description="audience ids; none = all")] = [],  # noqa: B006
    ) -> JSONResponse:
        """Upload one video and queue a scoring job for the chosen audiences."""
        chosen = _check_audiences(audiences)
        up, name = await run_in_threadpool(_ingest, file)
        job = store.create_job(user, [up.sha256], name, chosen)
        worker.notify()
        return JSONResponse(
            job.public(), status_code=202, headers={"Location": f"/api/jobs/{job.id}"}
        )

    @app.get("/api/jobs", tags=["api"])
    def jobs(user: Annotated[str, Depends(api_user)]) -> dict:
        """Your jobs, newest first."""
        return {"jobs": [j.public() for j in store.list_jobs(user)]}

    @app.get("/api/jobs/{job_id}", tags=["api"])
    def job_status(job_id: str, user: Annotated[str, Depends(api_user)]) -> dict:
        """One of your jobs (404 for unknown and for other users' jobs alike)."""
        return _own_job(job_id, user).public()

    @app.get("/api/jobs/{job_id}/result", tags=["api"])
    def job_result(job_id: str, user: Annotated[str, Depends(api_user)]) -> FileResponse:
        """The scoring result JSON of a finished job (409 while it is not done)."""
        job = _own_job(job_id, user)
        if job.status != "done" or job.result_path is None:
            raise HTTPException(409, f"job {job_id} is {job.status}, not done")
        folder = (settings.results_dir / job.id / job.result_path).parent
        found = sorted(folder.rglob("result.json"), key=lambda p: len(p.parts))
        if not found:
            raise HTTPException(404, f"job {job_id} has a report but no result.json")
        return FileResponse(found[0], media_type="application/json")

    @app.get("/jobs/{job_id}/files/{path:path}", include_in_schema=False)
    def job_file(job_id: str, path: str, request: Request) -> FileResponse:
        """A file of a job's report folder (the report, its assets, the input video; ranges ok)."""
        user = page_user(request)
        if user is None:
            raise HTTPException(401, "log in first")
        job = _own_job(job_id, user)
        root = (settings.results_dir / job.id).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(target)

    # ---- pages ----------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return _page(request, "login.html", user=None, error=None)

    @app.post("/login", include_in_schema=False, max_body_size=_FORM_MAX_BYTES)
    def login(request: Request, token: Annotated[str, Form()]) -> Any:
        user = auth.user_for(token)
        if user is None:
            return templates.TemplateResponse(
                request, "login.html", {"user": None, "error": "unknown token"}, status_code=401
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
            max_age=7 * 24 * 3600,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> RedirectResponse:
        response = _login_redirect()
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def upload_page(request: Request) -> Any:
        user = page_user(request)
        if user is None:
            return _login_redirect()
        return _page(
            request,
            "upload.html",
            user=user,
            groups=groups,
            max_mb=settings.max_upload_bytes / 2**20,
        )

    @app.get("/jobs", response_class=HTMLResponse, include_in_schema=False)
    def history_page(request: Request) -> Any:
        user = page_user(request)
        if user is None:
            return _login_redirect()
        return _page(request, "history.html", user=user, jobs=store.list_jobs(user))

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: str, request: Request) -> Any:
        user = page_user(request)
        if user is None:
            return _login_redirect()
        return _page(request, "job.html", user=user, job=_own_job(job_id, user))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(request: Request, a: str | None = None, b: str | None = None) -> Any:
        user = page_user(request)
        if user is None:
            return _login_redirect()
        done = [j for j in store.list_jobs(user) if j.status == "done"]
        pair = [_own_job(x, user) for x in (a, b) if x]
        return _page(request, "compare.html", user=user, done=done, pair=pair, a=a, b=b)

    return app
