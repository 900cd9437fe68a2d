"""Dependencies (``Annotated`` style) shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from realtime.config import Settings
from realtime.services import Services


def services_of(app: FastAPI) -> Services:
    return app.state.services  # type: ignore[no-any-return]


def get_services(request: Request) -> Services:
    return services_of(request.app)


def get_settings(request: Request) -> Settings:
    return services_of(request.app).settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
