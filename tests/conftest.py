import os
import signal
from pathlib import Path

import pytest


def descendant_pids(root: int) -> list[int]:
    """Every process below `root`, read from /proc (used to kill a real browser mid-episode)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_browsers() -> int:
    """SIGKILL every Chromium this test process started; returns how many were killed."""
    killed = 0
    for pid in descendant_pids(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            pass
    return killed


@pytest.fixture
def kill_browser():
    return kill_browsers


@pytest.fixture
def record_prompts():
    """record(policy) -> a list that collects every prompt the policy's engine generates from; the real model still
    answers. For tests of what a served checkpoint puts in its prompts."""
    def record(policy) -> list[str]:
        asked, generate = [], policy.engine.generate

        def generate_and_record(images, prompts, **kwargs):
            asked.extend(prompts)
            return generate(images, prompts, **kwargs)

        policy.engine.generate = generate_and_record
        return asked

    return record
