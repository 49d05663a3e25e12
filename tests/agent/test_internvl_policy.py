"""InternVLPolicy through `viragent run`: a random-weight tiny model acts on real MiniWoB pages."""

import json

import pytest

from viragent.agent import RunConfig, load_run, run_episodes
from viragent.agent.internvl_policy import InternVLPolicy, tiny_tokenizer, user_prompt
from viragent.model.loading import build_random, save_checkpoint


def test_prompt_holds_instruction_and_last_actions():
    text = user_prompt("Click OK.", ["click(x=1, y=2)", "done()"])
    assert text.startswith("<image>\nTask: Click OK.") and "click(x=1, y=2)\ndone()" in text


def test_image_last_prompt_keeps_the_same_text_and_is_recognised():
    from viragent.agent.prompts import image_position

    first = user_prompt("Click OK.", ["done()"])
    last = user_prompt("Click OK.", ["done()"], image="last")
    assert last == "Task: Click OK.\nPrevious actions:\ndone()\n<image>\nNext action:"
    assert last.replace("\n<image>", "") == first.replace("<image>\n", "")  # only the image moved
    assert (image_position(first), image_position(last), image_position("<image>\nDescribe it.")) == (
        "first", "last", None)
    with pytest.raises(ValueError, match="first.*last"):
        user_prompt("Click OK.", [], image="middle")


def test_random_tiny_policy_runs_end_to_end(tmp_path):
    out = tmp_path / "tiny"
    result = run_episodes(RunConfig(env_ids=["miniwob/click-button"], policy="internvl:tiny", episodes=2,
                                    max_steps=2, out=out), show_progress=False)
    steps = load_run(out).steps.to_pylist()
    assert len(steps) == sum(e.steps for e in result.episodes) >= 2
    for s in steps:
        assert s["n_tokens"] and s["n_tokens"] > 0 and s["logprob_mean"] < 0 and s["policy_ms"] > 0
        assert (s["action"] is None) == (s["parse_error"] is not None)  # every output is parsed or explained
    html = (out / "report.html").read_text()
    assert "raw text" in html and result.episodes[0].success is False  # random weights: it fails, as expected


@pytest.mark.parametrize("with_meta", [False, True])
def test_policy_loads_a_checkpoint_directory(tmp_path, with_meta):
    tok = tiny_tokenizer()
    model = build_random("tiny", tok, seed=1)
    if with_meta:
        save_checkpoint(model, tok, tmp_path / "ckpt", {"preset": "tiny"})
    else:
        model.save_pretrained(tmp_path / "ckpt")
        tok.save_pretrained(tmp_path / "ckpt")
    policy = InternVLPolicy.from_spec(str(tmp_path / "ckpt"))
    assert policy.name.startswith("internvl:") and policy.engine.processor.tokens_per_tile == 64
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["model_type"] == "internvl"


def _raw_texts(out, episode_id):
    return [s["raw_text"] for s in load_run(out).steps.to_pylist() if s["episode_id"] == episode_id]


def test_a_checkpoints_decoding_samples_in_its_suite_and_each_episode_draws_the_same(tmp_path):
    """viragent.json's "decoding" makes the policy sample in that suite only; the draws are seeded by the episode,
    so an episode reads the same whether it ran first or second, and --temperature 0 is greedy again."""
    from typer.testing import CliRunner

    from viragent.agent.cli import app

    tok = tiny_tokenizer()
    ckpt = save_checkpoint(build_random("tiny", tok, seed=1), tok, tmp_path / "ckpt",
                           {"decoding": {"babyai": {"temperature": 1.0}}})
    policy = InternVLPolicy.from_spec(str(ckpt))
    assert (policy.temperature_for("babyai"), policy.temperature_for("miniwob")) == (1.0, 0.0)

    def run(name, seed, episodes, temperature=None):
        config = RunConfig(env_ids=["babyai/goto"], policy=f"internvl:{ckpt}", episodes=episodes, seed=seed,
                           max_steps=3, out=tmp_path / name, temperature=temperature)
        run_episodes(config, show_progress=False)
        return tmp_path / name

    both = run("both", seed=0, episodes=2)
    second_alone = run("second", seed=1, episodes=1)
    assert _raw_texts(both, 2) == _raw_texts(second_alone, 1)  # episode seed 1, run second or alone
    assert _raw_texts(both, 1) != _raw_texts(both, 2)
    assert json.loads((both / "manifest.json").read_text())["policy_decoding"] == {"babyai": {"temperature": 1.0}}
    greedy = run("greedy", seed=0, episodes=1, temperature=0.0)
    assert _raw_texts(greedy, 1) != _raw_texts(both, 1)
    assert json.loads((greedy / "manifest.json").read_text())["policy_decoding"] == {}

    ev = tmp_path / "eval"
    args = ["eval", "--policy", f"internvl:{ckpt}", "--env", "babyai/goto", "--episodes", "1", "--max-steps", "2",
            "--out", str(ev)]
    r = CliRunner().invoke(app, args + ["--temperature", "0"])
    assert r.exit_code == 0, r.output
    assert "greedy decoding" in (ev / "eval.md").read_text()
    r = CliRunner().invoke(app, args)  # the checkpoint's own decoding: not the greedy run's table again
    assert r.exit_code == 0 and "reusing" not in r.output, r.output
    assert "sampled at temperature 1.0 in babyai, greedy elsewhere" in (ev / "eval.md").read_text()
    r = CliRunner().invoke(app, ["eval", "--policy", "expert", "--env", "babyai/goto", "--episodes", "1",
                                 "--temperature", "1", "--out", str(tmp_path / "expert")])
    assert r.exit_code == 0, r.output  # a temperature applies to InternVL columns only
    r = CliRunner().invoke(app, ["run", "--env", "babyai/goto", "--policy", "expert", "--temperature", "1",
                                 "--out", str(tmp_path / "run-expert")])
    assert r.exit_code != 0 and "InternVL policy" in r.output
    r = CliRunner().invoke(app, args[:-1] + [str(tmp_path / "negative"), "--temperature", "-1"])
    assert r.exit_code != 0 and "negative" in r.output
