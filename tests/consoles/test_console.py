"""A console on a real PTY: decoding, input, rendered output, exit and closing."""
from __future__ import annotations

import os
import re
import signal

import pytest

from consoles import ConsoleNotRunning, InputBufferFull
from tests.consoles.node import ConsoleNode, is_gone, screen_text, wait_for


@pytest.mark.gen_test(timeout=60)
async def test_a_character_split_across_reads_arrives_whole(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        # The euro sign's three bytes in two writes, with a pause between them
        # so the console reads them separately.
        console = await service.start_console(
            argv=["bash", "-c", r"printf 'A\342\202'; sleep 0.5; printf '\254B\n'; sleep 60"])
        client = await service.attach(console)
        await client.output_until("A€B")
        assert "\ufffd" not in client.output


@pytest.mark.gen_test(timeout=60)
async def test_invalid_bytes_become_replacement_characters(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(argv=["bash", "-c", r"printf 'x\377y\n'; sleep 60"])
        client = await service.attach(console)
        await client.output_until("x\ufffdy")
        await wait_for(lambda: "x\ufffdy" in screen_text(console))


@pytest.mark.gen_test(timeout=60)
async def test_send_input_and_latest_output_without_a_browser(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        console.send_input("printf 'abc\\rX\\n'; ls --color=always /; echo done\n")
        output = await wait_for(lambda: re.search(r"^done$", screen_text(console), re.M)
                                and screen_text(console), message="done in the output")
        assert "Xbc" in output.splitlines()
        assert "\x1b" not in output and "usr" in output
        assert len(screen_text(console, min_chars=10)) < len(output)


@pytest.mark.gen_test(timeout=60)
async def test_latest_output_renders_beyond_its_first_budget(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        console.send_input("for i in $(seq 1 20000); do echo line$i; done; echo finished\n")
        await wait_for(lambda: "\nfinished\n" in screen_text(console), timeout=60)
        output = screen_text(console, min_chars=100_000)
        assert len(output) >= 100_000
        assert "line20000\nfinished" in output and "\x1b" not in output


@pytest.mark.gen_test(timeout=60)
async def test_exit_is_reported_and_input_refused_afterwards(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(argv=["bash", "-c", "echo bye; exit 7"])
        await wait_for(lambda: console.finished)
        assert console.exit_status == 7 and "bye" in screen_text(console)
        with pytest.raises(ConsoleNotRunning, match="has ended"):
            console.send_input("ls\n")
        # A finished console can still be attached to: replay, exit status, disconnect.
        client = await service.attach(console)
        messages = await client.until_closed()
        assert [m[0] for m in messages] == ["setup", "stdout", "status", "disconnect"]
        assert messages[-1] == ["disconnect", "Process exited with status 7"]


@pytest.mark.gen_test(timeout=60)
async def test_killed_program_reports_signal_status(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(argv=["bash", "-c", "kill -9 $$"])
        await wait_for(lambda: console.finished)
        assert console.exit_status == 137


@pytest.mark.gen_test(timeout=60)
async def test_the_console_ends_when_its_program_exits_even_if_a_job_keeps_the_terminal(
        redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        client = await service.attach(console)
        console.send_input("sleep 300 & echo job=$!\n")
        output = await client.output_until(r"job=(\d+)")
        job = int(re.search(r"job=(\d+)", output).group(1))
        console.send_input("exit 0\n")
        messages = await client.until_closed()
        assert messages[-1] == ["disconnect", "Process exited with status 0"]
        assert console.exit_status == 0
        os.kill(job, signal.SIGKILL)  # this sandbox has no namespace to end it with the console


@pytest.mark.gen_test(timeout=60)
async def test_closing_kills_the_program_and_its_background_jobs(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console()
        client = await service.attach(console)
        console.send_input("sleep 300 & echo job=$!\n")
        output = await client.output_until(r"job=(\d+)")
        job = int(re.search(r"job=(\d+)", output).group(1))
        shell = console.pid
        assert await service.manager.close(console.id)
        messages = await client.until_closed()
        assert messages[-1] == ["disconnect", "The console was closed."]
        await wait_for(lambda: is_gone(job) and is_gone(shell), message="the processes to die")
        assert service.manager.get_live(console.id) is None
        assert await service.manager.record(console.id) is None


@pytest.mark.gen_test(timeout=90)
async def test_input_the_program_has_not_read_yet_is_queued_within_a_bound(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(
            argv=["bash", "-c", "sleep 1; head -c 600000 > /dev/null; echo drained; sleep 60"])
        lines = ("x" * 99 + "\n") * 6000  # 600,000 bytes
        console.send_input(lines)
        with pytest.raises(InputBufferFull, match="not reading its input"):
            console.send_input(lines)
        # (Under load the terminal may echo the last input after "drained".)
        await wait_for(lambda: "drained" in screen_text(console), timeout=60,
                       message="the program to read all the queued input")
