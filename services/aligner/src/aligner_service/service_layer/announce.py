"""The replica tells the others what it can align: ``EnginesAnnounced`` when it starts, then
every ``every_seconds`` (the gateway serves it as /languages and /engines and refuses jobs
nobody could align).

An announcement is a heartbeat, not a change of state: it is published straight to the
broker (``adapters.announcements``), not through the outbox (nothing is written that it
would have to match), and one that is lost is replaced by the next. The first few follow
each other quickly, so that a gateway that starts just after the aligner (its queue not
declared yet) hears of it soon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aligner_service.engines.catalog import ACCURACY, display_name, espeak_language_names
from aligner_service.engines.registry import EngineRegistry, EngineState
from contracts import EngineOffer, EnginesAnnounced, Envelope, LanguageInfo
from contracts.strings import LANGUAGE_CODE_MAX_LENGTH
from servicekit import get_logger

__all__ = ["Announcer", "announcement"]

log = get_logger(__name__)

FIRST_DELAYS_SECONDS = (2.0, 4.0, 8.0, 16.0)

Publish = Callable[[Envelope[EnginesAnnounced]], Awaitable[None]]


def announcement(
    worker: str,
    default_engine: str,
    states: list[EngineState],
    names: dict[str, str],
    every_seconds: int,
) -> EnginesAnnounced:
    """The event for what ``states`` say (codes too long for a job to name are left out)."""
    return EnginesAnnounced(
        worker=worker[:64],
        default_engine=default_engine,
        every_seconds=every_seconds,
        engines=[
            EngineOffer(
                engine=state.name,
                languages=[
                    LanguageInfo(code=code, display_name=display_name(code, names)[:200])
                    for code in state.languages
                    if len(code) <= LANGUAGE_CODE_MAX_LENGTH
                ],
                phones=state.phones,
                ready=state.ready,
                reason=state.reason,
                accuracy=ACCURACY.get(state.name, []),
            )
            for state in states
        ],
    )


class Announcer:
    def __init__(
        self, engines: EngineRegistry, worker: str, every_seconds: int, publish: Publish
    ) -> None:
        self._engines = engines
        self._worker = worker
        self._every = every_seconds
        self._publish = publish
        self._names: dict[str, str] | None = None
        self._task: asyncio.Task[None] | None = None

    async def announce(self) -> None:
        if self._names is None:
            self._names = await asyncio.to_thread(espeak_language_names)
        states = await asyncio.to_thread(self._engines.describe)
        event = announcement(self._worker, self._engines.default, states, self._names, self._every)
        envelope = Envelope.wrap(
            event, producer="aligner", correlation_id=f"engines-{self._worker}"[:128]
        )
        await self._publish(envelope)
        log.debug("engines.announced", engines=[s.name for s in states if s.ready])

    async def run(self) -> None:
        """Announce now, a few times quickly, then every period, until cancelled; a failed
        announcement (broker away) is only logged: the next one comes."""
        delays = [*(d for d in FIRST_DELAYS_SECONDS if d < self._every), float(self._every)]
        step = 0
        while True:
            try:
                await self.announce()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("engines.announce_failed", error=repr(exc))
            await asyncio.sleep(delays[min(step, len(delays) - 1)])
            step += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="engines-announcer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
