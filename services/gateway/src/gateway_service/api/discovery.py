"""``/api/v1/languages`` and ``/api/v1/engines``: what can be aligned, and by what.

Public (no token): nothing here belongs to a user, a client (or a person choosing a
service) can see what it offers before signing up, and the answer comes from a copy in the
gateway's memory a few seconds old at most, so it costs no more than /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from contracts import AccuracyFigure
from gateway_service.service_layer.engine_catalog import EngineCatalog

__all__ = ["router"]

router = APIRouter(tags=["discovery"])

CACHE = {"Cache-Control": "public, max-age=10"}


class LanguageOut(BaseModel):
    code: str = Field(description="what a submit's language field takes")
    name: str
    engines: list[str] = Field(description="the engines that align it now")
    phones: bool = Field(description="whether some engine gives a phone tier for it")


class LanguageList(BaseModel):
    items: list[LanguageOut]
    count: int


class EngineOut(BaseModel):
    name: str = Field(description="what a submit's engine field takes")
    languages: list[str]
    phones: bool
    available: bool = Field(description="some aligner announced it ready lately")
    default: bool = Field(
        description="used when a job names no engine and it speaks the job's language"
    )
    replicas: int = Field(description="aligners that have it ready now")
    accuracy: list[AccuracyFigure] = Field(description="measured on reference sets; see source")
    reason: str | None = Field(default=None, description="why it is not available")


class EngineList(BaseModel):
    items: list[EngineOut]
    count: int


def _catalog(request: Request) -> EngineCatalog:
    catalog: EngineCatalog = request.app.state.engine_catalog
    return catalog


@router.get("/languages", response_model=LanguageList)
async def languages(request: Request, response: Response) -> LanguageList:
    """The languages jobs can be in now, with the engines that align each."""
    catalog = await _catalog(request).current()
    response.headers.update(CACHE)
    items = [LanguageOut(**vars(summary)) for summary in catalog.languages()]
    return LanguageList(items=items, count=len(items))


@router.get("/engines", response_model=EngineList)
async def engines(request: Request, response: Response) -> EngineList:
    """Every engine the aligners announced: its languages, whether it gives phones, whether
    it is available now, and its measured accuracy (with where each figure comes from)."""
    catalog = await _catalog(request).current()
    response.headers.update(CACHE)
    items = [EngineOut(**vars(summary)) for summary in catalog.engines()]
    return EngineList(items=items, count=len(items))
