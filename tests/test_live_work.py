"""LiveWork: turns hold it, live signals hold it for a window, background work gets a slice after
a long hold; subscribers hear every change once."""

from __future__ import annotations

import asyncio

from realtime.pipeline.live import LiveWork


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(**kw):
    clock = Clock()
    live = LiveWork(clock=clock, **kw)
    told: list[bool] = []
    live.subscribe(told.append)
    return live, clock, told


def test_a_turn_holds_it_while_it_runs():
    live, _, told = make()
    with live.hold():
        assert live.busy
        with live.hold():  # two sessions' turns at once
            pass
        assert live.busy
    assert not live.busy and told == [True, False]


def test_a_live_signal_holds_it_for_its_window_and_a_turn_takes_over():
    live, clock, told = make(window_s=8.0)
    live.poke("speech_started")
    clock.t += 5.0
    with live.hold():  # the transcript's turn starts inside the window
        clock.t += 10.0  # and runs past it
        live._update()  # noqa: SLF001 - what the timer does
        assert live.busy
    assert told == [True, False]
    live.poke("input.text")
    clock.t += 7.9
    live._update()  # noqa: SLF001
    assert live.busy
    clock.t += 0.2
    live._update()  # noqa: SLF001
    assert not live.busy and told == [True, False, True, False]


def test_background_work_gets_a_slice_after_a_long_hold():
    live, clock, told = make(max_hold_s=30.0, slice_s=3.0)
    with live.hold():
        clock.t += 29.0
        live._update()  # noqa: SLF001
        assert live.busy
        clock.t += 1.5
        live._update()  # noqa: SLF001
        assert not live.busy  # 30 s of live work: the jobs run for 3 s
        clock.t += 3.1
        live._update()  # noqa: SLF001
        assert live.busy
    assert told == [True, False, True, False] and live.pauses == 2


def test_a_failing_subscriber_does_not_stop_the_others():
    live, _, told = make()
    live.subscribe(lambda busy: 1 / 0)
    with live.hold():
        pass
    assert told == [True, False]


async def test_the_window_ends_by_itself_on_the_loop():
    live = LiveWork(window_s=0.05)
    told: list[bool] = []
    live.subscribe(told.append)
    live.poke("speech_started")
    await asyncio.sleep(0.15)
    assert told == [True, False]
