"""The fan-out policy, over an in-memory viewer whose network drains when told to."""
from __future__ import annotations

import pytest

from consoles import frames
from consoles.fanout import Fanout, FlowLimits
from consoles.frames import Frame
from consoles.viewer import Viewer

LIMITS = FlowLimits(high_watermark=1000, low_watermark=100, viewer_cap=5000, catch_up_bytes=50)


class MemoryViewer(Viewer):
    """A viewer whose queue is bytes sent and not yet drained."""

    def __init__(self, username: str = "alice", readonly: bool = False) -> None:
        super().__init__(username, readonly)
        self.sent: list[Frame] = []
        self.queued = 0
        self.ended_with: Frame | None = None
        self.discarded = 0

    def transmit(self, frame: Frame) -> None:
        self.sent.append(frame)
        self.queued += len(frame.text)

    def queued_bytes(self) -> int:
        return self.queued

    def discard_queued(self) -> None:
        # Like a WebSocket: what was handed over cannot be taken back.
        self.discarded += 1

    def end(self, frame: Frame) -> None:
        self.ended_with = frame

    def drain(self, to: int = 0) -> None:
        self.queued = to
        self.progressed()

    def texts(self) -> list[str]:
        return [frame.text for frame in self.sent]


class Recorder:
    def __init__(self) -> None:
        self.changes = 0
        self.fanout = Fanout(LIMITS, self.catch_up, self.changed)

    def catch_up(self) -> list[Frame]:
        return [frames.status(notice="skipped"), frames.stdout("\x1bcTAIL")]

    def changed(self) -> None:
        self.changes += 1


def output(size: int) -> Frame:
    return frames.stdout("x" * size)


def test_a_read_write_viewer_blocks_above_high_and_unblocks_below_low():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer()
    fanout.add(viewer)
    fanout.send(output(900))
    assert not fanout.blocked
    fanout.send(output(200))
    assert fanout.blocked and recorder.changes == 1
    viewer.drain(to=500)  # below high, above low: still blocked
    assert fanout.blocked
    viewer.drain(to=99)
    assert not fanout.blocked and recorder.changes == 2
    assert len(viewer.sent) == 2  # never skipped


def test_pause_holds_output_and_resume_sends_it_in_order():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer()
    fanout.add(viewer)
    fanout.pause(viewer)
    assert fanout.blocked
    fanout.send(frames.stdout("one"))
    fanout.send(frames.stdout("two"))
    assert viewer.sent == []
    fanout.answer(viewer, frames.status(error="bad"))  # answers are not held
    fanout.resume(viewer)
    assert viewer.texts() == ['["status",{"error":"bad"}]', '["stdout","one"]', '["stdout","two"]']
    assert not fanout.blocked


def test_a_paused_read_write_viewer_holding_too_much_is_disconnected():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer()
    fanout.add(viewer)
    fanout.pause(viewer)
    for _ in range(6):
        fanout.send(output(1000))
    assert viewer.ended_with is not None and "paused" in viewer.ended_with.text
    assert fanout.viewers == [] and not fanout.blocked


def test_a_slow_read_only_viewer_skips_ahead_and_never_blocks():
    recorder = Recorder()
    fanout, owner, viewer = recorder.fanout, MemoryViewer(), MemoryViewer("bob", readonly=True)
    fanout.add(owner)
    fanout.add(viewer)
    for _ in range(12):
        fanout.send(output(500))
        owner.drain()
    assert not fanout.blocked and recorder.changes == 0
    assert viewer.behind and viewer.discarded == 1 and viewer.queued > LIMITS.viewer_cap
    sent_before = len(viewer.sent)
    viewer.queued = 200  # still above low: no catch-up yet
    fanout.send(output(10))
    assert len(viewer.sent) == sent_before
    viewer.drain()
    assert viewer.texts()[-2:] == ['["status",{"notice":"skipped"}]', '["stdout","\\u001bcTAIL"]']
    assert not viewer.behind
    fanout.send(output(10))
    assert viewer.texts()[-1] == frames.stdout("x" * 10).text


def test_a_read_only_viewer_that_missed_nothing_needs_no_catch_up():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer("bob", readonly=True)
    fanout.add(viewer)
    fanout.pause(viewer)
    assert not fanout.blocked
    fanout.resume(viewer)
    assert viewer.sent == []
    fanout.pause(viewer)
    fanout.send(frames.stdout("missed"))
    assert viewer.sent == []
    fanout.resume(viewer)
    assert viewer.texts() == ['["status",{"notice":"skipped"}]', '["stdout","\\u001bcTAIL"]']


def test_answers_are_dropped_for_a_viewer_past_its_cap():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer("bob", readonly=True)
    fanout.add(viewer)
    viewer.queued = LIMITS.viewer_cap + 1
    fanout.answer(viewer, frames.status(error="x"))
    assert viewer.sent == []


def test_removed_viewers_get_nothing_and_unblock():
    recorder = Recorder()
    fanout, viewer = recorder.fanout, MemoryViewer()
    fanout.add(viewer)
    fanout.pause(viewer)
    assert fanout.remove(viewer) and not fanout.blocked
    assert not fanout.remove(viewer)
    fanout.send(output(5))
    assert viewer.sent == []


@pytest.mark.parametrize("low, high, cap", [(0, 10, 20), (10, 10, 20), (5, 30, 20)])
def test_limits_must_be_ordered(low, high, cap):
    with pytest.raises(ValueError, match="low_watermark < high_watermark <= viewer_cap"):
        FlowLimits(high_watermark=high, low_watermark=low, viewer_cap=cap)
