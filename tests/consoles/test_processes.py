"""A user's process list and killing within it."""
from __future__ import annotations

import os
import re

import pytest

from consoles import ProcessNotYours, kill_process, list_processes
from tests.consoles.node import ConsoleNode, is_gone, wait_for


@pytest.mark.gen_test(timeout=60)
async def test_lists_descendants_and_kills_only_them(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        client = await service.attach(console)
        console.send_input("sleep 301 & echo job=$!\n")
        job = int(re.search(r"job=(\d+)", await client.output_until(r"job=(\d+)")).group(1))
        roots = service.manager.root_pids("alice")
        assert roots == [console.pid]

        async def listed_after_exec():
            # The job shows the shell's command line until it has exec'd sleep.
            processes = {info.pid: info for info in await list_processes(roots)}
            job_info = processes.get(job)
            return processes if job_info and job_info.command == "sleep 301" else None

        processes = await wait_for(listed_after_exec, message="the job in the list")
        assert console.pid in processes
        assert processes[job].memory_bytes > 0 and processes[job].cpu_seconds >= 0
        assert "bash" in processes[console.pid].command

        with pytest.raises(ProcessNotYours, match=f"Process {os.getpid()} is not running"):
            await kill_process(os.getpid(), roots)
        await kill_process(job, roots)
        await wait_for(lambda: is_gone(job))
        console.send_input("\n")  # the shell reports finished jobs at its next prompt
        await client.output_until(r"Killed\s+sleep 301")
        assert job not in {info.pid for info in await list_processes(roots)}
        assert await list_processes([]) == []
