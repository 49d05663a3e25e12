"""The CLI verbs as a user types them."""

import pytest
from typer.testing import CliRunner

from viragent.agent.cli import app

runner = CliRunner()


def test_tasks_lists_suites_and_marks_experts():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0
    assert "★ miniwob/click-button" in result.output and "miniwob/book-flight" in result.output
    assert "15 with an expert" in result.output


def test_unknown_task_exits_with_the_list():
    result = runner.invoke(app, ["run", "--env", "miniwob/click-buton", "--out", "/tmp/never"])
    assert result.exit_code == 2
    assert "unknown task 'click-buton'" in result.output and "click-button" in result.output


def test_unknown_policy_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "--env", "miniwob/click-test", "--policy", "smart", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown policy 'smart'" in result.output


def test_run_then_report(tmp_path):
    out = tmp_path / "cli"
    result = runner.invoke(app, ["run", "--env", "miniwob/click-test", "--policy", "expert", "--episodes", "2",
                                 "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "100.0 %" in result.output and "report.html" in result.output
    (out / "report.html").unlink()
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").exists()


def test_report_on_a_non_run_directory(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a viragent run directory" in result.output


def test_bench_env_prints_a_ratio():
    result = runner.invoke(app, ["bench", "env", "--env", "miniwob/click-test", "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert "step_ms" in result.output and "x" in result.output.split("step_ms")[1]


def test_model_params_table():
    result = runner.invoke(app, ["model", "params"])
    assert result.exit_code == 0 and "751.63M [751.63M]" in result.output and "38B" in result.output


def test_bench_model_tiny():
    result = runner.invoke(app, ["bench", "model", "--preset", "tiny", "--new-tokens", "4"])
    assert result.exit_code == 0, result.output
    assert "visual tokens/image" in result.output and "prefill ms" in result.output
    from viragent.agent.bench import bench_model

    rows = bench_model("tiny", batch_sizes=(1, 2), new_tokens=3, repeats=1)
    assert [r["batch"] for r in rows] == [1, 2]
    assert all(r["visual_tokens_per_image"] == 64 and r["prefill_ms"] > 0 and r["decode_tokens_per_s"] > 0 for r in rows)


def test_bench_train_compares_attention_kernels_and_precisions():
    result = runner.invoke(app, ["bench", "train", "--steps", "1", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "fp32" in result.output and "bf16 autocast" in result.output and "1.00x" in result.output
    assert "sdpa" in result.output and "eager (default here)" in result.output


def test_hub_id_policy_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "--env", "miniwob/click-test", "--policy", "internvl:OpenGVLab/InternVL3_5-1B-HF",
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "never downloads weights" in result.output


def _run_without_a_policy_flag(out, env_id):
    """`viragent run` as a user types it first: no --policy, so the shipped default acts."""
    from viragent.agent import load_run

    result = runner.invoke(app, ["run", "--env", env_id, "--episodes", "1", "--max-steps", "2",
                                 "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return load_run(out)


def test_run_defaults_to_the_shipped_policy(tmp_path):
    run = _run_without_a_policy_flag(tmp_path / "default", "miniwob/click-test")
    assert run.manifest["config"]["policy"] == "internvl:viragent-tiny"
    assert all(t for t in run.steps.column("raw_text").to_pylist())  # the model's own text, logged


def test_shipped_policy_is_served_as_it_was_trained(tmp_path):
    """viragent-tiny was trained on BabyAI's egocentric view with the image last; a plain run must do the same, and
    sample its BabyAI actions as its model card says (examples/EXPERIMENTS.md "Sampling in BabyAI")."""
    from viragent.agent.policies import make_policy

    run = _run_without_a_policy_flag(tmp_path / "babyai", "babyai/goto")
    assert run.manifest["policy_env_options"] == {"babyai": {"view": "agent"}}
    decoding = run.manifest["policy_decoding"]
    assert set(decoding) == {"babyai"} and decoding["babyai"]["temperature"] > 0
    assert set(run.steps.column("width").to_pylist()) == {112}  # 7x7 cells of 16 px, not the whole grid
    assert make_policy("internvl:viragent-tiny").image == "last"  # the prompt layout it was trained with


def test_axis_errors_by_hand():
    from viragent.agent.grounding import axis_errors

    # Rows found exactly, columns not at all: every click at x=12 whatever the target.
    r = axis_errors([(10, 10), (20, 40), (30, 70)], [(12, 10), (12, 40), (12, 70)])
    assert r == {"x_error_px": 8.0, "x_corr": 0.0, "y_error_px": 0.0, "y_corr": pytest.approx(1.0)}
    assert axis_errors([], [])["x_error_px"] is None


def test_bench_pointer_times_a_click_step_with_and_without_a_second_pass():
    result = runner.invoke(app, ["bench", "pointer", "--samples", "2"])  # the shipped policy's head
    assert result.exit_code == 0, result.output
    assert "second pass" in result.output and "kept states" in result.output and "1.00x" in result.output
    result = runner.invoke(app, ["bench", "pointer", "--policy", "internvl:tiny"])
    assert result.exit_code == 2 and "has no pointer" in result.output and "pointer-head" in result.output


def test_bench_grounding_scores_clicks_on_generated_screens():
    import random

    from viragent.agent.grounding import bench_grounding, click_hits, pointing_task
    from viragent.tools import Click, InternVLCodec

    image, instruction, target, n_named, regions = pointing_task(random.Random(3))
    assert f'"{target.text}"' in instruction and n_named >= 1
    assert target.text in [r["text"] for r in regions]  # the target's label, and the query's words
    assert {"Click", "on", "the"} <= {r["text"] for r in regions}
    x, y = target.centre
    assert click_hits(InternVLCodec().encode(Click(x=x, y=y)), target)
    assert not click_hits(InternVLCodec().encode(Click(x=min(1.0, x + 0.5), y=y)) if x < 0.5 else
                          InternVLCodec().encode(Click(x=x - 0.5, y=y)), target)
    assert not click_hits("done()", target) and not click_hits("click(x=", target)

    image, instruction, target, n_named, _ = pointing_task(random.Random(3), single=True)
    assert n_named == 1 and target.kind == "button" and target.box[1] >= 50  # below the query box
    r = bench_grounding("tiny", samples=6, batch=3)
    assert r["samples"] == 6 and 0 <= r["hit_rate"] <= 1 and 0 < r["chance"] <= 1
    assert r["content_ratio"] > 0.05  # random weights: the image reaches the LLM (the trained tiny lost that)
    assert set(r) >= {"x_error_px", "y_error_px", "x_corr", "y_corr"}
    result = runner.invoke(app, ["bench", "grounding", "--policy", "expert"])
    assert result.exit_code == 2 and "InternVL policy" in result.output

    # --world lists: a click-option / click-checkboxes page; the first click belongs on the first named item's button
    image, instruction, target, candidates, _ = pointing_task(random.Random(3), world="lists")
    assert instruction.startswith("Select ") and (target.text in instruction or target.text == "Submit")
    assert click_hits(InternVLCodec().encode(Click(x=target.centre[0], y=target.centre[1])), target)
    assert candidates >= 3  # two to six items and Submit
    r = bench_grounding("tiny", samples=3, batch=3, world="lists")
    assert r["samples"] == 3 and 0 < r["chance"] <= 1 / 3
    result = runner.invoke(app, ["bench", "grounding", "--world", "lists", "--single"])
    assert result.exit_code == 2 and "--single goes with miniwob" in result.output


def test_screens_generates_babyai_questions_and_names_an_unknown_world(tmp_path):
    result = runner.invoke(app, ["screens", "--world", "babyai", "--samples", "6", "--image", "last",
                                 "--out", str(tmp_path / "q")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "q" / "babyai_questions.jsonl").read_text().splitlines()
    assert len(lines) == 6 and '"generated/babyai/' in lines[0]
    result = runner.invoke(app, ["screens", "--world", "nethack", "--out", str(tmp_path / "n")])
    assert result.exit_code == 2 and "unknown world 'nethack'" in result.output and "babyai" in result.output


def test_a_repeated_env_option_adds_tasks(tmp_path):
    """`--env a --env b,c` evaluates all three; a plain string option kept only the last --env without a word."""
    import json

    result = runner.invoke(app, ["eval", "--policy", "expert", "--env", "babyai/goto", "--env",
                                 "babyai/open,babyai/pickup", "--episodes", "1", "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    success = json.loads((tmp_path / "ev" / "eval.json").read_text())["success"]["expert"]
    assert sorted(success) == ["babyai/goto", "babyai/open", "babyai/pickup"]
