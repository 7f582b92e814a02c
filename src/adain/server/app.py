"""The FastAPI application: ``create_app(config)`` loads the models once and serves them.

Routes (``/docs`` shows them with their fields):

* ``POST /v1/stylize``: multipart form -> the stylized image (PNG or JPEG).
* ``GET /v1/styles``: the bank styles, ``[{"name", "origin", "source", "features", "preview"}]``;
  ``GET /v1/styles/{name}/preview``: a small picture of the style (JPEG; :mod:`adain.server.previews`);
  ``POST /v1/styles`` adds one (files ``style_image``, field ``name``) to the user's bank, persisted.
* ``POST /v1/live``, ``POST /v1/live/{id}/frames``, ``DELETE /v1/live/{id}``: the live (webcam)
  mode (:mod:`adain.server.live`).
* ``GET /v1/info``: the preset, the speeds on offer (quality, and fast when its weights are installed:
  :mod:`adain.server.speeds`), the stylize methods and the limits a client must respect; ``GET /healthz``.
* ``GET /docs`` (Swagger UI) and ``GET /redoc``: the API's documentation, with their scripts and
  styles served by this server (the ``fastapi-offline`` package's copies): they work offline.
* ``GET /``: the live-preview page; ``GET /study``: the A/B study page, with
  ``POST /v1/study/trials``, ``GET /v1/study/trials/{id}/{left|right}``,
  ``POST /v1/study/trials/{id}/choice`` and ``GET /v1/study/report``.

Every request runs in the same order: refuse early what can be refused without reading (body
over the size limit, pool full), read the form into the request's own folder under the server's
temporary folder (removed afterwards), check it completely, then queue the work on the
:class:`~adain.server.workers.WorkerPool`, all within the request timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from adain._files import limit_allocator_retention
from adain._version import __version__
from adain.errors import AdainError, UsageError
from adain.pipeline.stylize import StylizationPipeline
from adain.server.config import LIVE_MAX_SIZE, LIVE_SIZE, MIN_SIZE, ServerConfig
from adain.server.errors import ApiError, api_error_from, install_error_handlers
from adain.server.jobs import (
    IMAGE_FORMATS,
    SERVER_METHODS,
    STYLIZE_FIELDS,
    STYLIZE_FILES,
    StylizeJob,
    check_fields,
    encode_styles,
    parse_flag,
    parse_stylize_form,
    render,
)
from adain.server.live import LIVE_FIELDS, LIVE_FILES, LiveSessions, parse_live_form, render_live
from adain.server.previews import StylePreviews
from adain.server.speeds import DEFAULT_SPEED, Speeds
from adain.server.study import SIDES, StudyPlan, StudyStore, Trial, load_study_plan, study_contents, study_report
from adain.server.styles import StyleCatalog, StyleExists
from adain.server.uploads import BodyLimitMiddleware, UploadedForm, read_form
from adain.server.workers import JobTimeout, PoolFull, WorkerPool
from adain.styles.bank import valid_style_name
from adain.styles.library import user_bank_path
from adain.weights.store import adain_home

__all__ = ["STATIC_DIR", "create_app"]

logger = logging.getLogger("adain.server")
STATIC_DIR = Path(__file__).resolve().parent / "static"
T = TypeVar("T")

STYLE_FIELDS = {
    "name": "the style's name (letters, digits, '.', '_', '-')",
    "style_image": "one or more images of the style (files; several are pooled)",
    "source": "where the images come from (kept in the bank)",
    "licence": "licence notes for the images",
    "replace": "true: overwrite a user style of the same name",
}
_TRIAL_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
STUDY_CACHE_SIZE = 32


def _file_stem(name: str) -> str:
    """A name fit for a downloaded file's name: ASCII letters, digits, '.', '_' and '-' only."""
    return _UNSAFE_NAME.sub("-", name).strip("-.")[:60]


def download_name(form: UploadedForm, image_format: str) -> str:
    """``<content>-<style>[-<style2>].<format>`` of a stylize form (its content file's stem, the
    style names or the style images' stems), as the page and ``curl -OJ`` save the result."""
    parts = []
    for name_field, file_field in (("content", "content"), ("style", "style_image"), ("style2", "style2_image")):
        upload = form.files.get(file_field, [None])[0]
        if upload is not None:
            parts.append(_file_stem(Path(upload.filename).stem))
        elif name_field != "content":
            parts.append(_file_stem((form.text(name_field) or "").strip().removeprefix("bank:")))
    stem = "-".join(part for part in parts if part) or "stylized"
    return f"{stem}.{'jpg' if image_format in ('jpeg', 'jpg') else image_format}"


def _multipart(fields: dict[str, str], files: dict[str, bool], required: list[str]) -> dict[str, Any]:
    """OpenAPI request body of a form (we parse it ourselves; ``files``: name -> several allowed)."""
    properties: dict[str, Any] = {}
    for name, description in fields.items():
        binary = {"type": "string", "format": "binary"}
        schema = (
            ({"type": "array", "items": binary} if files[name] else binary) if name in files else {"type": "string"}
        )
        properties[name] = {**schema, "description": description}
    body = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": body}}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "bad input (JSON: error, detail)",
        404: "not found",
        408: "upload too slow",
        409: "exists",
        413: "upload or image too large",
        415: "not multipart/form-data",
        503: "busy: retry after Retry-After seconds",
        504: "took longer than the request timeout",
    }
    return {code: {"description": described[code]} for code in codes}


class Choice(BaseModel):
    winner: Literal["left", "right"]


class StudyService:
    """The study's plan, trials, content images, per-configuration pipelines and a small image cache."""

    def __init__(
        self,
        plan: StudyPlan,
        store: StudyStore,
        contents: dict[str, Any],
        styles: list[str],
        pipelines: dict[str, StylizationPipeline],
    ) -> None:
        self.plan, self.store, self.contents, self.styles, self.pipelines = plan, store, contents, styles, pipelines
        self.rng = random.Random()
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def keep(self, key: tuple[str, str], image: bytes) -> None:
        with self._lock:
            self._cache[key] = image
            while len(self._cache) > STUDY_CACHE_SIZE:
                self._cache.popitem(last=False)


class ServerState:
    """What one app owns: config, models (the served pipeline, and the fast one once asked for), pool,
    banks, temporary folder, study."""

    def __init__(self, config: ServerConfig, pipeline: StylizationPipeline | None) -> None:
        self.config = config
        config.limits.check()
        self.pipeline = pipeline or self._load(config.decoder)
        # the distilled preset's pipeline is loaded by the first request for it (on its worker)
        self.speeds = Speeds(self.pipeline, config.preset, self._load_preset, config.home, config.fast)
        self.catalog = StyleCatalog(config.preset, config.user_bank or user_bank_path(config.preset))
        self.catalog.banks()  # a broken bank file fails start-up, not the first request
        self.previews = StylePreviews(
            self.pipeline,
            self.catalog,
            config.preview_cache or (config.home or adain_home()) / "cache" / "previews",
            config.style_preview_size,
            busy=lambda: self.pool.busy(),
        )
        self.study, self.study_problem = self._study()
        self.pool = WorkerPool(config.limits.workers, config.limits.queue_size)
        self.live = LiveSessions(config.limits.workers + config.limits.queue_size)
        parent = config.temp_parent
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.temp_dir = Path(tempfile.mkdtemp(prefix="adain-serve-", dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.temp_dir), True)
        limit_allocator_retention()  # freed activations go back to the system: RSS stays flat

    def _load(self, decoder: Path | None) -> StylizationPipeline:
        return self._load_preset(self.config.preset, decoder)

    def _load_preset(self, preset: str, decoder: Path | None = None) -> StylizationPipeline:
        """``preset``'s pipeline on the server's device and precision (its own decoder unless ``decoder``)."""
        config = self.config
        return StylizationPipeline.from_preset(
            preset, decoder_path=decoder, device=config.device, home=config.home, precision=config.precision
        )

    def _study(self) -> tuple[StudyService | None, str]:
        plan = load_study_plan(self.config.study_config)
        known = {item["name"] for item in self.catalog.listing()}
        missing = sorted(set(plan.styles) - known)
        if missing:
            raise UsageError(f"study styles not in the bank: {', '.join(missing)}")
        styles = plan.styles or sorted(known)
        try:
            contents = study_contents(self.config.study_content)
        except AdainError as error:
            if self.config.study_content is not None:
                raise
            return None, f"the study has no content images ({error}); start the server with --study-content DIR"
        pipelines = {}
        for name in plan.configurations:
            decoder = plan.decoder(name)
            pipelines[name] = self.pipeline if decoder is None else self._load(decoder)
        store = StudyStore(self.config.study_db or adain_home() / "study.sqlite")
        return StudyService(plan, store, contents, styles, pipelines), ""

    def close(self) -> None:
        self.previews.stop()
        self.pool.shutdown()
        self._finalizer()

    # -- the request cycle -------------------------------------------------------------------------

    def deadline(self) -> float:
        return time.monotonic() + self.config.limits.request_timeout_s

    @staticmethod
    def busy(error: PoolFull) -> ApiError:
        return ApiError(
            503,
            "busy",
            "the server is busy (all workers and the queue are taken); retry later",
            {"Retry-After": str(error.retry_after)},
        )

    async def read(self, request: Request, folder: Path, deadline: float) -> UploadedForm:
        try:
            return await asyncio.wait_for(
                read_form(request, folder, self.config.limits.max_parts), deadline - time.monotonic()
            )
        except (asyncio.TimeoutError, TimeoutError):
            raise ApiError(
                408,
                "request_timeout",
                f"the upload did not arrive within the request timeout of {self.config.limits.request_timeout_s:g} s",
            ) from None

    async def work(self, function: Callable[..., T], *args: Any, deadline: float, paths: dict[str, str]) -> T:
        try:
            return await self.pool.run(function, *args, timeout=max(0.0, deadline - time.monotonic()))
        except PoolFull as error:
            raise self.busy(error) from None
        except JobTimeout as error:
            where = "waiting for a worker" if error.queued else "stylizing"
            raise ApiError(
                504, "timeout", f"the request timed out after {self.config.limits.request_timeout_s:g} s ({where})"
            ) from None
        except AdainError as error:
            raise api_error_from(error, paths) from None

    @asynccontextmanager
    async def upload(self, request: Request) -> AsyncIterator[tuple[UploadedForm, float]]:
        """Refuse early if busy or given a query string, then read the form into a fresh folder
        (removed afterwards)."""
        deadline = self.deadline()
        if request.url.query:
            names = sorted({name for name, _ in parse_qsl(request.url.query, keep_blank_values=True)})
            shown = ", ".join(map(repr, names[:5])) or repr(request.url.query[:50])
            raise ApiError(
                400, "unknown_field", f"query parameters are not read here ({shown}): send them as form fields"
            )
        try:
            self.pool.refuse_if_full()
        except PoolFull as error:
            raise self.busy(error) from None
        folder = Path(tempfile.mkdtemp(prefix="request-", dir=self.temp_dir))
        try:
            yield await self.read(request, folder, deadline), deadline
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def create_app(config: ServerConfig | None = None, pipeline: StylizationPipeline | None = None) -> FastAPI:
    """The app for ``config``; loads the models now (``pipeline`` overrides them, e.g. in tests).

    Raises:
        AdainError: missing weights, a bad study file, a broken bank (before any port is bound).
    """
    state = ServerState(config or ServerConfig(), pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.config.preview_warmup:
            state.previews.start_warmup()  # in the background: the server answers meanwhile
        yield
        state.close()

    # FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN: blank offline. FastAPIOffline
    # is FastAPI with those pages served from the package's own copies of the scripts.
    app = FastAPIOffline(
        title="adain",
        version=__version__,
        lifespan=lifespan,
        description="Fast arbitrary style transfer with AdaIN. The page is at /, the A/B study at /study.",
    )
    app.state.adain = state
    app.add_middleware(BodyLimitMiddleware, max_bytes=state.config.limits.max_upload_bytes)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_routes(app, state)
    return app


def _add_routes(app: FastAPI, state: ServerState) -> None:
    limits = state.config.limits

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/study", include_in_schema=False)
    def study_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "study.html")

    @app.get("/healthz", summary="liveness and load")
    def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "preset": state.config.preset,
            "styles": len(state.catalog),
            "pool": state.pool.stats(),
        }

    @app.get("/v1/info", summary="the preset, the speeds on offer, default sizes and the limits a client must respect")
    def info() -> dict[str, Any]:
        return {
            "preset": state.config.preset,
            # the `speed` values: each one's preset, whether it is on offer and, when not, why
            "speed": DEFAULT_SPEED,
            "speeds": state.speeds.public(),
            "min_size": MIN_SIZE,
            "default_size": min(state.config.default_size, limits.max_size),
            "preview_size": min(state.config.preview_size, limits.max_size),
            "live_size": min(LIVE_SIZE, limits.max_size),
            "live_max_size": min(LIVE_MAX_SIZE, limits.max_size),
            "study": state.study is not None,
            # POST /v1/stylize's `method` values; attention needs style images (live frames: plain AdaIN)
            "methods": list(SERVER_METHODS),
            "limits": {**asdict(limits), "max_upload_bytes": limits.max_upload_bytes},
        }

    @app.post(
        "/v1/stylize",
        summary="stylize an image",
        response_class=Response,
        responses={
            200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the stylized image"},
            **_errors(400, 408, 413, 415, 503, 504),
        },
        openapi_extra=_multipart(STYLIZE_FIELDS, dict.fromkeys(STYLIZE_FILES, False), ["content"]),
    )
    async def stylize(request: Request) -> Response:
        async with state.upload(request) as (form, deadline):
            paths = form.path_names()
            try:
                job = parse_stylize_form(form, state.catalog, state.config)
            except AdainError as error:
                raise api_error_from(error, paths) from None
            state.speeds.check(job.speed)
            start = time.monotonic()
            image = await state.work(
                state.speeds.run, job.speed, render, job, limits.max_pixels, deadline=deadline, paths=paths
            )
            filename = download_name(form, job.format)
        return Response(
            image,
            media_type=IMAGE_FORMATS[job.format][1],
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "X-Adain-Seconds": f"{time.monotonic() - start:.3f}",
                "X-Adain-Speed": job.speed,
            },
        )

    @app.get("/v1/styles", summary="the bank styles (the user's, then the shipped ones), with their previews")
    def list_styles() -> list[dict[str, Any]]:
        listing = state.catalog.listing()
        for item in listing:
            item["preview"] = state.previews.url(item["name"])
        return listing

    @app.get(
        "/v1/styles/{name}/preview",
        summary="a small picture of a style: our decoder's rendering of a fixed pattern with its statistics, "
        "or, for a style you uploaded, a thumbnail of your image",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, **_errors(404)},
    )
    async def style_preview(name: str) -> Response:
        found = await asyncio.to_thread(state.previews.image, name)
        if found is None:
            raise ApiError(
                404, "unknown_style", f"no style {name!r} in this server's banks (GET /v1/styles lists them)"
            )
        image, kind = found
        return Response(
            image,
            media_type="image/jpeg",
            headers={"Cache-Control": "public, max-age=86400", "X-Adain-Preview": kind},
        )

    @app.post(
        "/v1/styles",
        summary="add a style to the user's bank (persisted)",
        status_code=201,
        responses=_errors(400, 408, 409, 413, 415, 503, 504),
        openapi_extra=_multipart(STYLE_FIELDS, {"style_image": True}, ["name", "style_image"]),
    )
    async def add_style(request: Request) -> JSONResponse:
        async with state.upload(request) as (form, deadline):
            check_fields(form, STYLE_FIELDS, {"style_image"})
            name = (form.text("name") or "").strip()
            if not name:
                raise ApiError(400, "missing_parameter", "no style name: send the field 'name'")
            valid_style_name(name)
            uploads = form.files.get("style_image", [])
            if not uploads:
                raise ApiError(400, "missing_parameter", "no style image: send one or more files as 'style_image'")
            replace = parse_flag(form, "replace")
            paths = form.path_names()
            encoded = await state.work(
                encode_styles,
                state.pipeline,
                uploads,
                state.config.style_size,
                limits.max_pixels,
                deadline=deadline,
                paths=paths,
            )
            try:
                entry = await asyncio.to_thread(
                    state.catalog.add,
                    name,
                    encoded,
                    (form.text("source") or "").strip(),
                    (form.text("licence") or "").strip(),
                    state.config.style_size,
                    replace,
                )
            except StyleExists as error:
                raise ApiError(409, "style_exists", str(error)) from None
            await asyncio.to_thread(state.previews.save_thumbnail, entry.name, uploads[0].path)
        return JSONResponse({"name": entry.name, "origin": "user", "images": len(entry.images)}, status_code=201)

    _add_live_routes(app, state)
    _add_study_routes(app, state)


def _add_live_routes(app: FastAPI, state: ServerState) -> None:
    limits = state.config.limits

    @app.post(
        "/v1/live",
        summary="open a live (webcam) session: its id, the frame sizes it takes",
        status_code=201,
        responses=_errors(503),
    )
    async def open_live() -> JSONResponse:
        session = state.live.open()
        largest = min(LIVE_MAX_SIZE, limits.max_size)
        return JSONResponse(
            {**session.public(), "size": min(LIVE_SIZE, largest), "min_size": MIN_SIZE, "max_size": largest},
            status_code=201,
        )

    @app.post(
        "/v1/live/{session_id}/frames",
        summary="stylize one camera frame of a live session (JPEG; 204 when a newer frame superseded it)",
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {}}, "description": "the stylized frame"},
            204: {"description": "dropped: a newer frame of the session arrived while this one waited"},
            **_errors(400, 404, 408, 413, 415, 503, 504),
        },
        openapi_extra=_multipart(LIVE_FIELDS, dict.fromkeys(LIVE_FILES, False), ["frame", "style"]),
    )
    async def live_frame(session_id: str, request: Request) -> Response:
        session = state.live.get(session_id)
        async with state.upload(request) as (form, deadline):
            paths = form.path_names()
            try:
                frame = parse_live_form(form, state.catalog, state.config)
            except AdainError as error:
                raise api_error_from(error, paths) from None
            state.speeds.check(frame.speed)
            ticket = session.arrive()
            async with session.lock:  # the frame before this one runs; a newer one may come meanwhile
                if ticket != session.latest:
                    session.dropped += 1
                    return Response(status_code=204, headers={"X-Adain-Dropped": "superseded"})
                start = time.monotonic()
                image = await state.work(
                    state.speeds.run,
                    frame.speed,
                    render_live,
                    session,
                    frame,
                    limits.max_pixels,
                    deadline=deadline,
                    paths=paths,
                )
                session.frames += 1
        return Response(
            image,
            media_type="image/jpeg",
            headers={
                "Cache-Control": "no-store",
                "X-Adain-Seconds": f"{time.monotonic() - start:.3f}",
                "X-Adain-Frame": str(session.frames),
                "X-Adain-Speed": frame.speed,
            },
        )

    @app.delete("/v1/live/{session_id}", summary="close a live session", responses=_errors(404))
    async def close_live(session_id: str) -> dict[str, Any]:
        return {**state.live.close(session_id).public(), "closed": True}


def _study_of(state: ServerState) -> StudyService:
    if state.study is None:
        raise ApiError(503, "study_unavailable", state.study_problem)
    return state.study


def _trial_of(study: StudyService, trial_id: str) -> Trial:
    trial = study.store.trial(trial_id) if _TRIAL_ID.match(trial_id) else None
    if trial is None:
        raise ApiError(404, "unknown_trial", f"no study trial {trial_id!r}")
    return trial


def _add_study_routes(app: FastAPI, state: ServerState) -> None:
    @app.post("/v1/study/trials", summary="a new A/B trial: one content, one style, two configurations")
    def new_trial() -> dict[str, Any]:
        study = _study_of(state)
        return study.store.new_trial(study.plan, sorted(study.contents), study.styles, study.rng).public()

    @app.get(
        "/v1/study/trials/{trial_id}/{side}",
        summary="one side of a trial, rendered",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, **_errors(404, 503, 504)},
    )
    async def trial_image(trial_id: str, side: str) -> Response:
        study = _study_of(state)
        if side not in SIDES:
            raise ApiError(404, "not_found", f"side must be left or right. Got {side!r}")
        trial = await asyncio.to_thread(_trial_of, study, trial_id)
        key = (trial.id, side)
        image = study.cached(key)
        if image is None:
            name = trial.configuration(side)
            if trial.content not in study.contents or name not in study.pipelines:
                raise ApiError(404, "unknown_trial", f"trial {trial_id!r} belongs to another study set-up")
            job = StylizeJob(
                study.contents[trial.content], [state.catalog.statistics(trial.style)], study.plan.options(name)
            )
            image = await state.work(
                render, study.pipelines[name], job, state.config.limits.max_pixels, deadline=state.deadline(), paths={}
            )
            study.keep(key, image)
        return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.post(
        "/v1/study/trials/{trial_id}/choice",
        summary="record which side the person prefers",
        responses=_errors(404, 409),
    )
    def choose(trial_id: str, choice: Choice) -> dict[str, Any]:
        study = _study_of(state)
        trial = _trial_of(study, trial_id)
        if not study.store.choose(trial.id, choice.winner):
            raise ApiError(409, "already_decided", f"trial {trial_id!r} was decided already")
        return {"id": trial.id, "winner": choice.winner, "recorded": True}

    @app.get("/v1/study/report", summary="win rates with 95% Wilson confidence intervals")
    def report() -> dict[str, Any]:
        return study_report(_study_of(state).store.decisions())
