"""A user's process list and killing within it."""
from __future__ import annotations

import os
import re

import pytest

from consoles import ProcessNotYours, cpu_seconds_by_root, kill_process, list_processes
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


@pytest.mark.gen_test(timeout=60)
async def test_cpu_of_many_consoles_in_one_scan(redis_socket, homes):
    """Each console's CPU, as the process list sums it; a console whose program has gone is left out."""
    async with ConsoleNode(redis_socket, homes) as service:
        busy = await service.start_console(owner="alice")
        idle = await service.start_console(owner="alice")
        client = await service.attach(busy)
        # A child that burns some CPU, then keeps it (it sleeps): the figures stay put while compared.
        busy.send_input("sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 300' & echo job=$!\n")
        await client.output_until(r"job=\d+")

        async def burnt():
            return any(info.command == "sleep 300" for info in await list_processes([busy.pid]))

        await wait_for(burnt, message="the job done burning")
        gone = 2**22 + 1  # above the largest pid Linux allows: never a process
        totals = await cpu_seconds_by_root([busy.pid, idle.pid, gone])
        assert set(totals) == {busy.pid, idle.pid}
        for root in (busy.pid, idle.pid):
            assert totals[root] == round(sum(info.cpu_seconds for info in await list_processes([root])), 2)
        assert totals[busy.pid] > totals[idle.pid]
        assert await cpu_seconds_by_root([]) == {}
