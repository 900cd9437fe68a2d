"""The one interface to the GPU host, for the realtime server and the avatar job worker.

:func:`build_gpu_client` gives a :class:`LocalGpuClient` (the scheduler runs in this process:
``AVATAR_GPU_HOST_URL`` empty, the default) or an :class:`HttpGpuClient` (``python -m gpu_host``
elsewhere). Both behave the same:

* ``live_signal(reason)``: a live conversation signal; never blocks, never raises.
* ``await conversation_ready(reason)`` -> milliseconds waited for the conversation plan (the
  turn's ``gpu_wait_ms``: over HTTP, the host's own wait, not the round trip); never raises. Over HTTP, a GPU host that does not answer within
  ``client_timeout_s`` is taken as down for ``client_down_retry_s``: meanwhile the client puts
  the services in the conversation plan itself, through their own APIs (``restore_conversation``)
  so conversation goes on, and turns never wait on the dead host.
* ``set_mode``, ``vram``, ``status``: the operator API (raise :class:`GpuError`).
* ``request_lease(job_id, plan, stage)`` -> :class:`LeaseHandle`: background work's stage-sized
  leases (see :mod:`gpu_host.stage` for the loop that resumes from checkpoints).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx

from gpu_host.config import GpuSettings
from gpu_host.errors import GpuError
from gpu_host.scheduler import Scheduler

__all__ = ["GpuClient", "GpuError", "GpuSettings", "HttpGpuClient", "LeaseHandle",
           "LocalGpuClient", "build_gpu_client"]
log = logging.getLogger(__name__)
ENDED = ("released", "preempted", "expired", "refused")


class LeaseHandle:
    """A job's view of its lease. ``granted`` and ``ended`` are events; ``lost`` means the GPU
    host stopped answering (treat it as a preemption: stop using the GPU, ask again later)."""

    def __init__(self, info: dict, poll: Callable[[float, dict], Awaitable[dict]],
                 release: Callable[[bool, object], Awaitable[dict]], poll_s: float) -> None:
        self.info = info
        self.id: str = info["lease_id"]
        self.granted = asyncio.Event()
        self.ended = asyncio.Event()
        self.lost = False
        self._poll, self._release, self._poll_s = poll, release, poll_s
        self._report: dict = {}
        self._apply(info)
        self._task = asyncio.create_task(self._watch(), name=f"lease-{self.id}")

    @property
    def state(self) -> str:
        return "lost" if self.lost else self.info["state"]

    def _apply(self, info: dict) -> None:
        self.info = info
        if info["state"] == "granted":
            self.granted.set()
        if info["state"] in ENDED:
            self.ended.set()

    async def _watch(self) -> None:
        while not self.ended.is_set():
            try:
                report, self._report = self._report, {}
                self._apply(await self._poll(self._poll_s, report))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the host is gone: the lease is lost
                log.warning("lease %s lost: %s", self.id, exc)
                self.lost = True
                self.ended.set()

    async def wait_granted(self) -> bool:
        """True once granted; False if it ended (or was lost) first."""
        waiters = [asyncio.ensure_future(e.wait()) for e in (self.granted, self.ended)]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        return self.granted.is_set() and not self.ended.is_set()

    def report(self, progress: float | None = None, checkpoint=None) -> None:
        """Progress and the last checkpoint, sent with the next poll (for the operator view)."""
        if progress is not None:
            self._report["progress"] = progress
        if checkpoint is not None:
            self._report["checkpoint"] = checkpoint

    async def release(self, completed: bool = False, checkpoint=None) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        if not self.ended.is_set() and not self.lost:
            with contextlib.suppress(Exception):
                self._apply(await self._release(completed, checkpoint))
        self.ended.set()


class GpuClient(abc.ABC):
    kind = "abstract"

    def __init__(self, settings: GpuSettings) -> None:
        self.settings = settings

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    @abc.abstractmethod
    def live_signal(self, reason: str) -> None: ...

    @abc.abstractmethod
    async def conversation_ready(self, reason: str = "turn") -> float: ...

    @abc.abstractmethod
    async def set_mode(self, mode: str) -> dict: ...

    @abc.abstractmethod
    async def vram(self) -> dict: ...

    @abc.abstractmethod
    async def status(self) -> dict: ...

    @abc.abstractmethod
    async def request_lease(self, job_id: str, plan: str, stage: str,
                            est_s: float | None = None) -> LeaseHandle: ...

    @abc.abstractmethod
    async def health(self) -> dict:
        """``{kind, status: healthy | unreachable, plan}`` (never raises)."""

    def metrics_registry(self):
        """The Prometheus registry to export with the server's (in process only)."""
        return None


class LocalGpuClient(GpuClient):
    kind = "embedded"

    def __init__(self, settings: GpuSettings, scheduler: Scheduler | None = None) -> None:
        super().__init__(settings)
        if scheduler is None:
            from gpu_host.host import build_scheduler

            scheduler = build_scheduler(settings)
        self.scheduler = scheduler

    async def start(self) -> None:
        await self.scheduler.start()

    async def aclose(self) -> None:
        await self.scheduler.aclose()

    def live_signal(self, reason: str) -> None:
        try:
            self.scheduler.live(reason)
        except Exception:  # noqa: BLE001 - a signal must never break a session
            log.exception("live signal failed")

    async def conversation_ready(self, reason: str = "turn") -> float:
        try:
            return await self.scheduler.conversation_ready(reason)
        except Exception:  # noqa: BLE001 - never block or fail a turn on the GPU host
            log.exception("conversation_ready failed; the turn goes on")
            return 0.0

    async def set_mode(self, mode: str) -> dict:
        return await self.scheduler.set_mode(mode)

    async def health(self) -> dict:
        return {"kind": self.kind, "status": "healthy", "plan": self.scheduler.plan}

    async def vram(self) -> dict:
        return self.scheduler.vram()

    async def status(self) -> dict:
        return {**self.scheduler.status(), "host": self.kind}

    async def request_lease(self, job_id: str, plan: str, stage: str,
                            est_s: float | None = None) -> LeaseHandle:
        sch = self.scheduler
        lease = sch.request(job_id, plan, stage, est_s)

        async def poll(wait_s: float, report: dict) -> dict:
            sch.touch(lease.id, **report)
            if lease.state not in ENDED:
                await lease.wait_change(wait_s)
            sch.touch(lease.id)
            return lease.to_dict(sch.now())

        async def release(completed: bool, checkpoint) -> dict:
            return sch.release(lease.id, completed, checkpoint).to_dict(sch.now())

        return LeaseHandle(lease.to_dict(sch.now()), poll, release,
                           poll_s=self.settings.lease_ttl_s / 3)

    def metrics_registry(self):
        return self.scheduler.metrics.registry


class HttpGpuClient(GpuClient):
    kind = "remote"

    def __init__(self, url: str, settings: GpuSettings) -> None:
        super().__init__(settings)
        self.url = url.rstrip("/")
        t = settings.client_timeout_s
        self._http = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(t, connect=t))
        self._down_until = 0.0
        self._tasks: set[asyncio.Task] = set()
        self._fallback: Scheduler | None = None
        self._fallback_ok_until = 0.0
        self._fallback_lock = asyncio.Lock()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._http.aclose()
        if self._fallback is not None:
            for svc in self._fallback.services.values():
                with contextlib.suppress(Exception):
                    await svc.aclose()

    # ------------------------------------------------------------------ down detection
    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def down(self) -> bool:
        return self._now() < self._down_until

    def _mark_down(self, exc: Exception) -> None:
        if not self.down:
            log.warning("gpu_host at %s is not answering (%s): assuming the conversation plan",
                        self.url, exc)
        self._down_until = self._now() + self.settings.client_down_retry_s

    async def _call(self, method: str, path: str, *, timeout: float | None = None, **kw) -> dict:
        limit = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(
            timeout, connect=self.settings.client_timeout_s)  # a dead host fails fast
        try:
            r = await self._http.request(method, path, timeout=limit, **kw)
        except (httpx.TransportError, OSError) as exc:
            self._mark_down(exc)
            raise GpuError("SERVICE_UNAVAILABLE", f"gpu_host is unreachable: {exc}") from exc
        self._down_until = 0.0
        body = r.json()
        if not body.get("success"):
            err = body.get("error") or {}
            raise GpuError(err.get("code", "INTERNAL_ERROR"), err.get("message", r.text[:200]))
        return body["data"]

    async def _ensure_conversation(self) -> float:
        """gpu_host is down: put the services in the conversation plan ourselves (cached)."""
        t0 = self._now()
        if t0 < self._fallback_ok_until:
            return 0.0
        async with self._fallback_lock:
            if self._now() >= self._fallback_ok_until:
                if self._fallback is None:
                    from gpu_host.host import build_scheduler

                    # only the services' own APIs: no process of gpu_host's is started or
                    # stopped here, and nothing is declared on its behalf
                    self._fallback = build_scheduler(self.settings.model_copy(update={
                        "sovits_command": "", "gen3d_command": "", "whisper_mb": 0}))
                try:
                    async with asyncio.timeout(self.settings.ready_timeout_s):
                        await self._fallback.restore_conversation()
                except Exception as exc:  # noqa: BLE001 - the turn goes on regardless
                    log.error("could not restore the conversation plan without gpu_host: %s", exc)
                self._fallback_ok_until = self._now() + self.settings.client_down_retry_s
        return round((self._now() - t0) * 1000.0, 2)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the interface
    def live_signal(self, reason: str) -> None:
        async def send() -> None:
            if self.down:
                await self._ensure_conversation()
                return
            with contextlib.suppress(GpuError):
                await self._call("POST", "/v1/live", json={"reason": reason})

        try:
            self._spawn(send())
        except RuntimeError:  # no running loop (shutting down)
            pass

    async def conversation_ready(self, reason: str = "turn") -> float:
        t0 = self._now()
        if not self.down:
            try:
                data = await self._call("POST", "/v1/ready", json={"reason": reason},
                                        timeout=self.settings.ready_timeout_s + 5.0)
                # the host's own wait for the plan; the call itself (~1-3 ms on a LAN) is the
                # cost of asking, and stays in the turn's llm_wait_ms
                return float(data["waited_ms"])
            except GpuError as exc:
                if exc.code != "SERVICE_UNAVAILABLE":
                    log.warning("gpu_host ready: %s", exc)
                    return round((self._now() - t0) * 1000.0, 2)
        await self._ensure_conversation()
        return round((self._now() - t0) * 1000.0, 2)

    async def set_mode(self, mode: str) -> dict:
        return await self._call("POST", "/v1/mode", json={"mode": mode},
                                timeout=self.settings.switch_timeout_s + 5.0)

    async def vram(self) -> dict:
        return await self._call("GET", "/v1/vram")

    async def health(self) -> dict:
        try:
            data = await self._call("GET", "/health")
        except GpuError as exc:
            return {"kind": self.kind, "status": "unreachable", "plan": None,
                    "detail": str(exc)}
        return {"kind": self.kind, "status": "healthy", "plan": data["plan"]}

    async def status(self) -> dict:
        return {**await self._call("GET", "/v1/status"), "host": self.kind}

    async def request_lease(self, job_id: str, plan: str, stage: str,
                            est_s: float | None = None) -> LeaseHandle:
        info = await self._call("POST", "/v1/leases", json={
            "job_id": job_id, "plan": plan, "stage": stage, "est_s": est_s})
        lease_id = info["lease_id"]

        async def poll(wait_s: float, report: dict) -> dict:
            return await self._call("POST", f"/v1/leases/{lease_id}/poll",
                                    json={"wait_s": wait_s, **report}, timeout=wait_s + 5.0)

        async def release(completed: bool, checkpoint) -> dict:
            return await self._call("POST", f"/v1/leases/{lease_id}/release",
                                    json={"completed": completed, "checkpoint": checkpoint})

        return LeaseHandle(info, poll, release, poll_s=min(10.0, self.settings.lease_ttl_s / 3))


def build_gpu_client(url: str = "", settings: GpuSettings | None = None) -> GpuClient:
    """In process when ``url`` is empty, else over HTTP to ``python -m gpu_host`` at ``url``."""
    settings = settings or GpuSettings()
    return HttpGpuClient(url, settings) if url else LocalGpuClient(settings)
