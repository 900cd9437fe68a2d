"""Response models of the avatar job routes (``/api/generate``, ``/api/style``,
``/api/models``), in the seeds' envelope."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]


class JobErrorBody(BaseModel):
    code: str = Field(..., description="NO_FACE_DETECTED, CHECK_FAILED, GENERATION_FAILED, ...")
    message: str


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    estimated_time: int = Field(..., description="Seconds, when a worker takes it now")


class JobAcceptedResponse(BaseModel):
    success: Literal[True] = True
    data: JobAccepted


class JobStatusData(BaseModel):
    job_id: str
    kind: Literal["generate", "style"]
    status: JobStatus
    progress: int = Field(..., ge=0, le=100)
    current_step: str | None = Field(None, description="validate | detect | style | build | rig "
                                                       "| face | clips | export | check | "
                                                       "thumbnail | done")
    result_url: str | None = None
    error: JobErrorBody | None = None
    status_url: str
    steps_done: list[str]
    options: dict
    engine: str | None = Field(None, description="template | gpu3d (generate jobs)")
    result: dict | None = Field(None, description="url, thumbnail_url, vrm_url, checks")
    notes: list[str] = Field(default_factory=list, description="What was substituted and why")
    created_at: float | None = None
    updated_at: float | None = None
    finished_at: float | None = None
    stopped_ms: float | None = Field(None, description="Cancelled while running: milliseconds "
                                                       "from the cancel to the work stopped")
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per step")


class JobStatusResponse(BaseModel):
    success: Literal[True] = True
    data: JobStatusData


class JobPage(BaseModel):
    items: list[JobStatusData]
    next_before: float | None = Field(None, description="Pass as ?before= for the next page")


class JobPageResponse(BaseModel):
    success: Literal[True] = True
    data: JobPage
