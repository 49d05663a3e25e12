"""The same loop, logs and report for the desktop and BabyAI suites; vector rollouts log no reset step."""

from typer.testing import CliRunner

from viragent.agent import RunConfig, load_run, run_episodes
from viragent.agent.cli import app
from viragent.agent.vector import vector_rollouts


def test_desktop_and_babyai_runs_produce_the_same_run_directory(tmp_path):
    for env_id in ("desktop/checkboxes", "babyai/open"):
        out = tmp_path / env_id.replace("/", "-")
        result = run_episodes(RunConfig(env_ids=[env_id], episodes=2, max_steps=40, out=out), show_progress=False)
        assert result.rows[0]["success"] == 1.0
        run = load_run(out)
        assert run.episodes.num_rows == 2 and (out / "report.html").exists()
        assert all((out / "screens" / s["screenshot"]).exists() for s in run.steps.to_pylist())


def test_vector_rollouts_match_sequential_runs_step_for_step(tmp_path):
    config = dict(env_ids=["babyai/putnext"], episodes=5, seed=20, max_steps=64)
    vec = vector_rollouts(RunConfig(out=tmp_path / "vec", **config), num_envs=2)
    seq = run_episodes(RunConfig(out=tmp_path / "seq", **config), show_progress=False)
    assert [(e.seed, e.steps, e.success) for e in vec.episodes] == [(e.seed, e.steps, e.success) for e in seq.episodes]
    a, b = load_run(tmp_path / "vec").steps.to_pylist(), load_run(tmp_path / "seq").steps.to_pylist()
    key = lambda r: (r["episode_id"], r["step"])  # noqa: E731
    assert [(r["episode_id"], r["step"], r["action_text"]) for r in sorted(a, key=key)] == \
        [(r["episode_id"], r["step"], r["action_text"]) for r in sorted(b, key=key)]


def test_cli_num_envs(tmp_path):
    result = CliRunner().invoke(app, ["run", "--env", "babyai/goto", "--policy", "expert", "--episodes", "3", "--num-envs", "2",
                                      "--max-steps", "64", "--out", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    assert "100.0 %" in result.output and load_run(tmp_path / "v").episodes.num_rows == 3
