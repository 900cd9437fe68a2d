"""Dependencies (``Annotated`` style) shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from realtime.auth import resolve_user
from realtime.config import Settings
from realtime.errors import ApiError
from realtime.services import Services
from realtime.store.base import StoreUnavailable


def services_of(app: FastAPI) -> Services:
    return app.state.services  # type: ignore[no-any-return]


def get_services(request: Request) -> Services:
    return services_of(request.app)


def get_settings(request: Request) -> Settings:
    return services_of(request.app).settings


async def store_call(call):
    """Await a store call; a store that is down is ``SERVICE_UNAVAILABLE`` (retry in 5 s)."""
    try:
        return await call
    except StoreUnavailable as exc:
        raise ApiError("SERVICE_UNAVAILABLE", str(exc), retry_after=5) from exc


async def current_user(request: Request) -> str:
    """The caller's user id (token mode: from the Bearer token), counted against the user's
    rate limit: every authenticated REST call is one request."""
    services = services_of(request.app)
    user = resolve_user(services.settings, request.headers.get("authorization"))
    await services.limits.check_rate(user)
    return user


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
UserDep = Annotated[str, Depends(current_user)]
