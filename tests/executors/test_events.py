"""The Docker executor's event stream (``watch``) and its two-call start, on the real engine."""

from __future__ import annotations

import threading

import docker
import pytest

from reconciler.executors.docker import DockerExecutor
from reconciler.interfaces import RunRequest
from reconciler.runids import container_name

from .conftest import BUSYBOX, new_run_id

pytestmark = pytest.mark.docker


def test_a_container_that_ends_wakes_the_watcher_and_is_observed_exited(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    woken = threading.Event()
    docker_executor.watch(woken.set)
    try:
        assert woken.wait(10), "the watcher wakes once when it connects"
        woken.clear()
        run_id = new_run_id()
        request = RunRequest(
            run_id=run_id,
            job_id="events",
            trigger="manual",
            image=BUSYBOX,
            command=("sh", "-c", "sleep 1; exit 4"),
        )
        started = docker_executor.start(request)
        assert (started.state, started.run_id, started.job_id) == ("running", run_id, "events")
        assert started.started_at is not None
        assert woken.wait(20), "the container's end wakes the watcher"
        docker_client.api.wait(container_name(run_id), timeout=10)
        [run] = [r for r in docker_executor.observe() if r.run_id == run_id]
        assert (run.state, run.exit_code) == ("exited", 4)
        assert run.finished_at is not None and run.started_at is not None
    finally:
        docker_executor.close()


def test_a_container_another_tool_removes_wakes_the_watcher_and_leaves_the_picture(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    woken = threading.Event()
    docker_executor.watch(woken.set)
    try:
        assert woken.wait(10)
        run_id = new_run_id()
        docker_executor.start(
            RunRequest(
                run_id=run_id,
                job_id="events",
                trigger="manual",
                image=BUSYBOX,
                command=("sleep", "30"),
            )
        )
        assert [r.state for r in docker_executor.observe() if r.run_id == run_id] == ["running"]
        woken.clear()
        docker_client.api.remove_container(container_name(run_id), force=True)
        assert woken.wait(20), "the removal wakes the watcher"
        assert [r for r in docker_executor.observe() if r.run_id == run_id] == []
    finally:
        docker_executor.close()


def test_observe_reports_a_container_whose_start_is_still_going_without_inspecting_it(
    docker_executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    """An inspect of a container the engine is starting waits until the start is done (seconds
    on a loaded engine), so observe reports it from the list's labels instead."""
    run_id = new_run_id()
    request = RunRequest(
        run_id=run_id, job_id="held", trigger="manual", image=BUSYBOX, command=("sleep", "30")
    )
    created, release = threading.Event(), threading.Event()
    engine_start = docker_executor._start

    def held_start(container_id: str, run: str) -> None:
        created.set()
        assert release.wait(20)
        engine_start(container_id, run)

    docker_executor._start = held_start  # type: ignore[method-assign]
    api = docker_executor._docker().api
    inspected: list[str] = []
    inspect = api.inspect_container

    def counting_inspect(container: str) -> object:
        inspected.append(container)
        return inspect(container)

    api.inspect_container = counting_inspect
    starter = threading.Thread(target=docker_executor.start, args=(request,))
    starter.start()
    try:
        assert created.wait(20)
        [run] = [r for r in docker_executor.observe() if r.run_id == run_id]
        assert (run.state, run.job_id, run.trigger) == ("created", "held", "manual")
        assert inspected == []
    finally:
        release.set()
        starter.join(30)
        del api.inspect_container
        docker_executor.close()
    try:
        [run] = [r for r in docker_executor.observe() if r.run_id == run_id]
        assert run.state == "running"
    finally:
        docker_client.api.remove_container(container_name(run_id), force=True)
