"""A loopback TCP proxy for fault tests: counts live upstream connections, can cut or stall."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``. ``cut_after`` bytes of response → drop it."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0,
                 cut_after: int | None = None, stall_s: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.cut_after = cut_after
        self.stall_s = stall_s
        self.open = 0
        self.total = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        self.open += 1
        self.total += 1
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            self.open -= 1
            cw.close()
            return

        async def pipe(r, w, limit=None):
            sent = 0
            try:
                while data := await r.read(65536):
                    if limit is not None and sent + len(data) > limit:
                        w.write(data[: max(0, limit - sent)])
                        await w.drain()
                        return
                    if self.stall_s:
                        await asyncio.sleep(self.stall_s)
                    w.write(data)
                    await w.drain()
                    sent += len(data)
            except (ConnectionError, asyncio.CancelledError):
                pass

        up = asyncio.create_task(pipe(cr, uw))
        down = asyncio.create_task(pipe(ur, cw, self.cut_after))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (up, down):
                t.cancel()
            for w in (uw, cw):
                with contextlib.suppress(Exception):
                    w.close()
            self.open -= 1

    async def wait_closed_all(self, timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.open and loop.time() < end:
            await asyncio.sleep(0.02)
        return self.open == 0

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
