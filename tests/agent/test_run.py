"""End to end: the LangGraph loop over real MiniWoB pages, logs, report, errors, crashes and resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from viragent.agent import PolicyOutput, RunConfig, load_run, run_episodes
from viragent.agent import policies as policies_module
from viragent.agent.trajectory import RunWriteError


def test_expert_run_writes_logs_screens_and_report(tmp_path):
    out = tmp_path / "demo"
    result = run_episodes(RunConfig(env_ids=["miniwob/click-button", "miniwob/enter-text"], episodes=3, seed=100,
                                    out=out), show_progress=False)
    assert [r["env"] for r in result.rows] == ["miniwob/click-button", "miniwob/enter-text", "all"]
    assert result.rows[-1]["success"] == 1.0 and result.rows[-1]["episodes"] == 6

    run = load_run(out)
    steps = run.steps.to_pylist()
    assert run.episodes.num_rows == 6
    assert [e["seed"] for e in run.episodes.to_pylist()] == [100, 101, 102, 100, 101, 102]
    assert all((out / "screens" / s["screenshot"]).exists() for s in steps)
    first = steps[0]
    assert first["raw_text"].startswith("click(x=") and json.loads(first["action"])["type"] == "click"
    assert first["width"] == 160 and first["height"] == 210 and first["env_ms"] > 0
    assert pq.read_table(out / "steps.parquet").num_rows == len(steps)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["policy"] == "expert" and manifest["versions"]["playwright"]
    assert not (out / "journal.jsonl").exists()

    html = (out / "report.html").read_text()
    assert html.count("<img") == len(steps)
    assert html.count("<circle") == 2 * sum(1 for s in steps if json.loads(s["action"])["type"] == "click")
    assert "type(text=" in html  # enter-text typed its answer, shown per step


class TextPolicy:
    """A policy that writes fixed texts, as a model would: here, mostly malformed ones."""

    name = "text"

    def __init__(self, texts):
        self.texts = list(texts)

    def reset(self, env):
        self.i = 0

    def act(self, observation, history):
        text = self.texts[min(self.i, len(self.texts) - 1)]
        self.i += 1
        return PolicyOutput.from_text(text)


def test_malformed_output_is_recorded_and_the_episode_goes_on_until_the_error_budget(tmp_path):
    policy = TextPolicy(["I think I should click the button", "click(x=5000, y=1)", "forward()", "done()"])
    out = tmp_path / "bad"
    result = run_episodes(RunConfig(env_ids=["miniwob/click-test"], episodes=1, out=out, error_budget=3),
                          show_progress=False, policy=policy)
    episode = result.episodes[0]
    assert episode.end_reason == "error_budget" and episode.errors == 3 and episode.steps == 3
    steps = load_run(out).steps.to_pylist()
    assert steps[0]["action"] is None and "no action call" in steps[0]["parse_error"]
    assert steps[0]["raw_text"] == "I think I should click the button"
    assert "outside the 0-1000 grid" in steps[1]["parse_error"]
    assert steps[2]["parse_error"] is None and "cannot execute 'forward'" in steps[2]["action_error"]
    assert "parse error" in (out / "report.html").read_text()


def test_step_limit_ends_a_random_episode(tmp_path):
    result = run_episodes(RunConfig(env_ids=["miniwob/click-dialog-2"], policy="random", episodes=2, out=tmp_path / "r",
                                    max_steps=4, seed=1), show_progress=False)
    for ep in result.episodes:
        assert ep.steps <= 4 and (ep.end_reason in ("task_over", "step_limit"))


def test_unknown_env_fails_before_anything_is_written(tmp_path):
    from viragent.environments import TaskNotFound

    with pytest.raises(TaskNotFound, match="click-button"):
        run_episodes(RunConfig(env_ids=["miniwob/click-buton"], out=tmp_path / "x"), show_progress=False)
    assert not (tmp_path / "x").exists()


def test_existing_run_directory_is_not_overwritten(tmp_path):
    out = tmp_path / "r"
    run_episodes(RunConfig(env_ids=["miniwob/click-test"], episodes=1, out=out), show_progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        run_episodes(RunConfig(env_ids=["miniwob/click-test"], episodes=1, out=out), show_progress=False)


def test_killed_browser_is_recorded_and_the_next_episode_relaunches(tmp_path, kill_browser):
    class KillingExpert(policies_module.ExpertPolicy):
        calls = 0

        def act(self, observation, history):
            KillingExpert.calls += 1
            if KillingExpert.calls == 2:  # second episode, first step: the browser dies under us
                kill_browser()
            return super().act(observation, history) if KillingExpert.calls != 2 else \
                PolicyOutput.from_text("click(x=500, y=500)")

    result = run_episodes(RunConfig(env_ids=["miniwob/click-test"], episodes=3, out=tmp_path / "k"),
                          show_progress=False, policy=KillingExpert())
    reasons = [e.end_reason for e in result.episodes]
    assert reasons == ["task_over", "crashed", "task_over"]
    steps = load_run(tmp_path / "k").steps.to_pylist()
    assert "browser died" in steps[1]["action_error"]


def test_full_disk_gives_a_clear_error_and_keeps_what_was_written(tmp_path):
    from viragent.agent.trajectory import RunWriter

    writer = RunWriter(tmp_path / "full", {"run_id": "full", "config": {}, "created": ""})
    # /dev/full answers every write with ENOSPC, exactly as a full disk does.
    (tmp_path / "full" / "screens" / "000001-000.png").symlink_to("/dev/full")
    import numpy as np

    with pytest.raises(RunWriteError, match="disk is full.*--resume"):
        writer.save_screen("000001-000.png", np.zeros((4, 4, 3), np.uint8))
    assert (tmp_path / "full" / "manifest.json").exists()


def _run_cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "viragent.agent.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def test_a_killed_run_loses_at_most_the_step_in_flight_and_resumes(tmp_path):
    out = tmp_path / "killed"
    args = ["run", "--env", "miniwob/login-user", "--policy", "expert", "--episodes", "6", "--out", str(out), "--quiet", "--checkpoint"]
    proc = _run_cli(args, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "parts").glob("*.episode.parquet"))) < 2:
        time.sleep(0.2)
    time.sleep(0.3)  # let it get into the next episode
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    run = load_run(out)  # an interrupted run reads without compaction
    finished = run.episodes.num_rows
    assert 2 <= finished < 6
    assert run.steps.num_rows == 5 * finished  # login-user takes five expert steps
    assert all(r["episode_id"] == finished + 1 for r in run.unfinished_steps)

    resumed = _run_cli([*args[:-1], "--resume", "--checkpoint"])
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    run = load_run(out)
    assert sorted(run.episodes.column("episode_id").to_pylist()) == [1, 2, 3, 4, 5, 6]
    assert run.steps.num_rows == 30 and all(run.episodes.column("success").to_pylist())
    assert (out / "checkpoints.sqlite").exists()
