"""A live viewer switching mode when its share changes: flow control stays consistent."""
from __future__ import annotations

from consoles import frames
from tests.consoles.test_fanout import MemoryViewer, Recorder, output


def test_a_throttled_typist_made_read_only_unblocks_the_program():
    recorder = Recorder()
    fanout, owner, carol = recorder.fanout, MemoryViewer(), MemoryViewer("carol")
    fanout.add(owner)
    fanout.add(carol)
    fanout.send(output(1200))
    owner.drain()
    assert fanout.blocked  # carol has not read her output
    fanout.set_readonly(carol, True)
    assert carol.readonly and not carol.throttled and not fanout.blocked


def test_output_held_for_a_paused_typist_is_skipped_once_read_only():
    recorder = Recorder()
    fanout, carol = recorder.fanout, MemoryViewer("carol")
    fanout.add(carol)
    fanout.pause(carol)
    fanout.send(frames.stdout("held"))
    assert carol.held and fanout.blocked
    fanout.set_readonly(carol, True)
    assert not carol.held and carol.held_bytes == 0 and carol.behind and not fanout.blocked
    fanout.resume(carol)
    assert carol.texts() == ['["status",{"notice":"skipped"}]', '["stdout","\\u001bcTAIL"]']


def test_a_skipping_watcher_made_a_typist_gets_its_catch_up_at_once():
    recorder = Recorder()
    fanout, bob = recorder.fanout, MemoryViewer("bob", readonly=True)
    fanout.add(bob)
    bob.queued = 6000  # past the cap: the next output is skipped
    fanout.send(output(10))
    assert bob.behind and bob.sent == []
    fanout.set_readonly(bob, False)
    assert not bob.readonly and not bob.behind
    assert bob.texts() == ['["status",{"notice":"skipped"}]', '["stdout","\\u001bcTAIL"]']
    # A typist is never skipped again: it holds the program back instead.
    assert fanout.blocked
    fanout.send(output(10))
    assert bob.texts()[-1] == output(10).text


def test_switching_to_the_same_mode_or_a_stranger_changes_nothing():
    recorder = Recorder()
    fanout, bob, stranger = recorder.fanout, MemoryViewer("bob", readonly=True), MemoryViewer("eve")
    fanout.add(bob)
    fanout.set_readonly(bob, True)
    fanout.set_readonly(stranger, True)
    assert bob.readonly and not stranger.readonly and recorder.changes == 0
