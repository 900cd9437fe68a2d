"""One adapter per model service: its VRAM need per state and the verbs it is driven by.

States: ``resident`` (loaded, serving), ``asleep`` (vLLM level-1 sleep: weights in host memory),
``stopped`` (nothing loaded: ComfyUI with its models unloaded, or a process that is not running),
``failed`` (it did not answer as it should) and ``unknown`` (not probed yet). Every transition
goes through the service's own API, or through a process gpu_host started itself; a process
gpu_host did not start is never signalled.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from typing import Literal

import httpx

from gpu_host.aio import poll_until  # noqa: F401 - re-exported for the adapters
from gpu_host.figures import Need

log = logging.getLogger(__name__)

State = Literal["resident", "asleep", "stopped", "failed", "unknown"]
TARGETS = ("resident", "asleep", "stopped")


class ServiceError(Exception):
    """A service did not do what it was asked (``code`` is the API error code to report)."""

    def __init__(self, message: str, code: str = "SERVICE_UNAVAILABLE") -> None:
        super().__init__(message)
        self.code = code


class Service(abc.ABC):
    """A model service on the GPU. Subclasses implement :meth:`_to` and :meth:`probe`."""

    #: verbs this adapter can use (shown in the status): load, unload, sleep, wake, interrupt,
    #: start, stop, health
    verbs: tuple[str, ...] = ("health",)
    #: states this adapter can reach; a plan asking for another is met by the nearest lower one
    reachable: tuple[str, ...] = ("resident",)

    def __init__(self, name: str, need: Need, url: str = "", *, timeout_s: float = 10.0) -> None:
        self.name = name
        self.need = need
        self.url = url.rstrip("/")
        self.state: State = "unknown"
        self.detail = ""  # why it failed, what it is doing
        self.last_switch: float | None = None  # wall clock (epoch s) of the last transition
        self.last_switch_s: float | None = None  # how long it took
        self.timeout_s = timeout_s
        self.device = None  # set by the scheduler: a SimulatedDevice gets declared needs
        self._http: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.url and self._http is None:
            self._http = httpx.AsyncClient(base_url=self.url, timeout=self.timeout_s)
        try:
            self.state = await self.probe()
        except Exception as exc:  # noqa: BLE001 - a service that is down is reported, not fatal
            self.state, self.detail = "failed", f"probe: {exc}"

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.url, timeout=self.timeout_s)
        return self._http

    # ------------------------------------------------------------------ what plans use
    def mb(self, state: str | None = None) -> int:
        """Declared MB in ``state`` (default: the current one; unknown counts as resident)."""
        state = state or self.state
        if state == "asleep":
            return self.need.asleep
        if state == "stopped":
            return self.need.stopped
        return self.need.resident

    @property
    def driven(self) -> bool:
        """False for a service gpu_host cannot move (it stays as it is; plans count it so)."""
        return len(self.reachable) > 1

    def nearest(self, target: str) -> str:
        """The state a plan's ``target`` means for this service (a pinned service stays)."""
        if target in self.reachable:
            return target
        if target == "asleep" and "stopped" in self.reachable:
            return "stopped"
        if target == "stopped" and "asleep" in self.reachable:
            return "asleep"
        return "resident"

    def observed_mb(self, by_holder: dict[str, int]) -> int | None:
        """What the device shows this service holding, if it can be told apart."""
        return by_holder.get(self.name)

    # ------------------------------------------------------------------ verbs
    async def to(self, target: str) -> None:
        """Bring the service to ``target`` (one of :data:`TARGETS`); raises :class:`ServiceError`."""
        target = self.nearest(target)
        async with self._lock:
            if self.state == target:
                return
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            try:
                await self._to(target)
            except ServiceError as exc:
                if exc.code != "BUSY":  # busy: it is still where it was
                    self.state, self.detail = "failed", str(exc)
                raise
            except (httpx.HTTPError, OSError) as exc:
                self.state, self.detail = "failed", f"{type(exc).__name__}: {exc}"
                raise ServiceError(f"{self.name}: {self.detail}") from exc
            self.state, self.detail = target, ""  # type: ignore[assignment]
            self.last_switch, self.last_switch_s = time.time(), loop.time() - t0

    @abc.abstractmethod
    async def _to(self, target: str) -> None: ...

    @abc.abstractmethod
    async def probe(self) -> State:
        """Ask the service what state it is in (at start and after a failure)."""

    async def interrupt(self) -> None:
        """Stop the work under way (background services); conversation services have none."""

    async def health(self) -> bool:
        try:
            return await self._health()
        except (httpx.HTTPError, OSError):
            return False

    async def _health(self) -> bool:
        return True

    def declare(self, mb: int) -> None:
        """On the simulated device, declare what a service that cannot declare itself holds."""
        if self.device is not None and getattr(self.device, "kind", "") == "simulated":
            self.device.set(self.name, mb)

    def status(self) -> dict:
        return {"name": self.name, "state": self.state, "detail": self.detail,
                "url": self.url or None, "verbs": list(self.verbs),
                "need_mb": {"resident": self.need.resident, "asleep": self.need.asleep,
                            "stopped": self.need.stopped},
                "last_switch": self.last_switch, "last_switch_s": _r(self.last_switch_s)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
