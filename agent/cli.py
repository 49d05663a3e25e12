"""The `viragent` command line. Each verb is a thin wrapper over a function that tests call directly."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="viragent: agents that see a screen and act on it.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
bench_app = typer.Typer(help="Benchmarks: numbers and ratios measured in one run.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
train_app = typer.Typer(help="Training: SFT on exported trajectories.", no_args_is_help=True)
app.add_typer(train_app, name="train")
model_app = typer.Typer(help="The InternVL3.5 model: presets and their sizes.", no_args_is_help=True)
app.add_typer(model_app, name="model")
console = Console()


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # unwrapped: paths stay whole
    raise typer.Exit(code=2)


ENV_OPTION_HELP = ("KEY=VALUE passed to every env (repeatable), e.g. view=agent for BabyAI's egocentric view, "
                   "start=object (collect only) to begin BabyAI episodes next to a random object; true/false and "
                   "numbers are converted")
TEMPERATURE_HELP = ("InternVL: sample at this temperature in every suite (0: greedy); default: the checkpoint's own "
                    "decoding (viragent-tiny samples at 1.0 in BabyAI and is greedy elsewhere)")


IMAGE_HELP = ("where the screenshot sits in the prompt: first (<image> then the task) or last (just before 'Next "
              "action:'); a checkpoint trained on it records it and is served with it")


def _check_image_position(image: str) -> None:
    from viragent.agent.prompts import IMAGE_POSITIONS

    if image not in IMAGE_POSITIONS:
        _fail(f"--image must be one of {', '.join(IMAGE_POSITIONS)}, not {image!r}")


def _option_value(text: str):
    """'True'/'false' -> bool, '32' -> 32, '0.5' -> 0.5, anything else stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        with contextlib.suppress(ValueError):
            return convert(text)
    return text


def _key_values(pairs: list[str] | None, option: str, form: str, example: str) -> dict:
    """['view=agent', 'tile_size=32'] -> {'view': 'agent', 'tile_size': 32}; a pair without '=' fails naming
    `option`, the `form` it wants and an `example`."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            _fail(f"{option} wants {form}, not {pair!r} (e.g. {option} {example})")
        options[key.strip()] = _option_value(value.strip())
    return options


def _env_options(pairs: list[str] | None) -> dict:
    return _key_values(pairs, "--env-option", "KEY=VALUE", "view=agent")


def _env_ids(values: list[str] | None) -> list[str]:
    """`--env a,b --env c` -> [a, b, c]: a repeated --env adds tasks (a plain str option kept only the last one,
    so a second --env silently dropped the first)."""
    return [e.strip() for value in values or [] for e in value.split(",") if e.strip()]


@app.command()
def run(
    env: list[str] = typer.Option(..., "--env", help="SUITE/TASK, several separated by commas or the option "
                                                     "repeated (see `viragent tasks`)"),
    policy: str = typer.Option("internvl:viragent-tiny", help="internvl:viragent-tiny (the shipped policy), "
                                                                "expert, random, or internvl:<preset or dir>"),
    episodes: int = typer.Option(10, help="episodes per env"),
    seed: int = typer.Option(0, help="episode i uses seed S+i: keep evaluation seeds apart from training seeds"),
    out: Path = typer.Option(Path("runs/latest"), help="run directory (parquet logs, screens, report.html)"),
    max_steps: int = typer.Option(10, help="step limit per episode"),
    error_budget: int = typer.Option(3, help="malformed/unexecutable actions allowed before an episode ends"),
    resume: bool = typer.Option(False, help="continue an interrupted run in --out, skipping finished episodes"),
    checkpoint: bool = typer.Option(False, help="keep LangGraph state per step in OUT/checkpoints.sqlite"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    num_envs: int = typer.Option(1, help="> 1: step that many copies of one env through gymnasium.vector"),
    env_option: list[str] = typer.Option(None, help=ENV_OPTION_HELP),
    temperature: float = typer.Option(None, help=TEMPERATURE_HELP),
):
    """Run a policy on environments; log every step; print a summary; write an HTML report."""
    from viragent.agent.runner import RunConfig, run_episodes
    from viragent.agent.trajectory import RunWriteError
    from viragent.environments import BrowserNotFound, ExpertUnavailable, TaskNotFound

    config = RunConfig(env_ids=_env_ids(env), policy=policy,
                       episodes=episodes, seed=seed, out=out, max_steps=max_steps, error_budget=error_budget,
                       resume=resume, checkpoint=checkpoint, env_kwargs=_env_options(env_option),
                       temperature=temperature)
    try:
        if num_envs > 1:
            from viragent.agent.vector import vector_rollouts

            vector_rollouts(config, num_envs, console=console)
        else:
            run_episodes(config, console=console, show_progress=not quiet)
    except (TaskNotFound, BrowserNotFound, ExpertUnavailable, FileExistsError, FileNotFoundError, RunWriteError,
            ValueError) as exc:
        _fail(str(exc))


@app.command()
def collect(
    suite: str = typer.Option(..., help="miniwob | desktop | babyai"),
    episodes: int = typer.Option(50, help="episodes per task"),
    seed: int = typer.Option(100_000, help="first seed; training seeds start at 100000, evaluation at 0"),
    tasks: str = typer.Option(None, help="comma-separated tasks (default: every task with an expert)"),
    out: Path = typer.Option(..., help="run directory"),
    max_steps: int = typer.Option(30, help="step limit per episode"),
    regions: bool = typer.Option(True, help="record the words on each browser screen with their boxes, or each "
                                            "BabyAI object named by one word (exported as region-token labels "
                                            "for `train sft --region-loss`)"),
    noise: float = typer.Option(0.0, help="share of steps where a random move replaces the expert's, so the data "
                                          "shows recoveries; those steps are never exported as answers"),
    noise_policy: str = typer.Option(None, help="a policy that makes the --noise steps instead of random moves "
                                                "(e.g. internvl:viragent-tiny): the expert then labels the states "
                                                "its own mistakes lead to (DAgger)"),
    wrong_pickups: float = typer.Option(0.0, help="BabyAI: share of the steps facing an object the mission does not "
                                                  "want where the collector picks it up, so the data shows the "
                                                  "expert putting it down again; never exported as answers"),
    env_option: list[str] = typer.Option(None, help=ENV_OPTION_HELP),
):
    """Expert demonstrations over a suite; the seed range is recorded in the run's manifest."""
    from viragent.agent.evaluation import collect as collect_fn

    try:
        collect_fn(suite, episodes, out, seed=seed, tasks=tasks.split(",") if tasks else None, max_steps=max_steps,
                   console=console, regions=regions, noise=noise, env_options=_env_options(env_option),
                   noise_policy=noise_policy, wrong_pickups=wrong_pickups)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        _fail(str(exc))


@app.command()
def export(
    runs: list[Path] = typer.Argument(..., help="run directories"),
    out: Path = typer.Option(..., help="folder for NAME.jsonl and NAME_meta.json"),
    name: str = typer.Option("viragent_sft", help="dataset name"),
    all_episodes: bool = typer.Option(False, help="keep failed episodes too (default: successful only)"),
    no_dedupe: bool = typer.Option(False, help="keep repeated (screen, prompt, answer) samples"),
    max_per_task: int = typer.Option(None, help="cap on samples per env id"),
    bins: int = typer.Option(None, help="snap click coordinates to N cells per axis (the tiny recipe uses 32)"),
    retype: int = typer.Option(0, help="N more copies of each typing step whose string the instruction quotes, "
                                       "with fresh strings"),
    retype_all_steps: bool = typer.Option(False, help="with --retype: copy the episode's click steps as well"),
    image: str = typer.Option("first", help=IMAGE_HELP),
    think_front: bool = typer.Option(False, help="answer 'In front: red ball. pickup()': name what the agent faces "
                                                 "before the action (runs whose env reports it: BabyAI)"),
    think_target: bool = typer.Option(False, help="answer 'In front: red box. Target: red ball, match: no. "
                                                  "turn_left()': what the agent faces, what the mission asks for "
                                                  "now and whether they agree (BabyAI)"),
    look_first: bool = typer.Option(False, help="the prompt says what the agent faces ('In front of you: red "
                                                "box.'), the answer 'Target: red ball, match: no. turn_left()', and "
                                                "each screen is also asked 'What is in front of you?' (BabyAI)"),
    look_texts: int = typer.Option(0, help="with --look-first: N text-only copies of each step facing an object, "
                                           "another object in front, answered from the mission's target"),
    look_missions: int = typer.Option(0, help="with --look-first: N copies of each step facing an object, its "
                                              "screen kept and the mission's target changed"),
    point_targets: bool = typer.Option(False, help="give each step that shows the mission's object its centre as "
                                                   "the sample's point, for train sft --pointer-loss (BabyAI)"),
    carrying: bool = typer.Option(False, help="the prompt says what the agent holds ('You are carrying: red ball.'), "
                                              "which BabyAI's egocentric frame hides under the agent (BabyAI)"),
):
    """Runs -> InternVL SFT jsonl + meta json (readable by the official InternVL training scripts)."""
    from viragent.agent.datasets import ExportFilter, export_sft

    _check_image_position(image)
    try:
        meta = export_sft(runs, out, name, ExportFilter(successful_only=not all_episodes, dedupe=not no_dedupe,
                                                         max_per_task=max_per_task, bins=bins, retype=retype,
                                                         retype_all_steps=retype_all_steps, image=image,
                                                         think_front=think_front, think_target=think_target,
                                                         look_first=look_first, look_texts=look_texts,
                                                         look_missions=look_missions,
                                                         point_targets=point_targets, carrying=carrying))
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    table = Table(title=f"{name}: {meta['length']} samples -> {meta['annotation']}")
    table.add_column("env")
    table.add_column("samples", justify="right")
    for env_id, n in meta["per_task"].items():
        table.add_row(env_id, str(n))
    console.print(table)


@app.command()
def screens(
    out: Path = typer.Option(..., help="folder for the pictures, NAME.jsonl and NAME_meta.json"),
    samples: int = typer.Option(20000, help="generated tasks"),
    seed: int = typer.Option(None, help="random seed (miniwob, default 0) or first BabyAI level seed (babyai, default "
                                        "500000: clear of the evaluation's 0-49 and the demonstrations' 100000 on; text, default 900000)"),
    name: str = typer.Option(None, help="dataset name (default viragent_screens, babyai_questions or "
                                        "text_questions)"),
    bins: int = typer.Option(None, help="snap click coordinates to N cells per axis (the tiny recipe uses 32)"),
    image: str = typer.Option("first", help=IMAGE_HELP),
    world: str = typer.Option("miniwob", help="miniwob: MiniWoB-looking screens to point at and read; lists: "
                                              "click-option/click-checkboxes-like lists with random-string labels "
                                              "(the first click); babyai: "
                                              "questions about BabyAI scenes in the egocentric view; text: the "
                                              "'is the red ball in front of you?' questions as pure text"),
):
    """Generated grounding/reading data in InternVL's SFT format, like `export`: MiniWoB-looking screens (the
    `pretrained` stage), click-option / click-checkboxes pages with random labels, questions about BabyAI scenes,
    or the match questions as pure text (no image)."""
    _check_image_position(image)
    if world == "babyai":
        from viragent.agent.grid_questions import generate_grid_questions

        name = name or "babyai_questions"
        with console.status(f"asking {samples} questions about BabyAI scenes"):
            meta = generate_grid_questions(out, samples, seed=500000 if seed is None else seed, name=name,
                                           image_position=image)
    elif world == "text":
        from viragent.agent.grid_questions import generate_text_questions

        name = name or "text_questions"
        meta = generate_text_questions(out, samples, seed=900000 if seed is None else seed, name=name)
    elif world in ("miniwob", "lists"):
        from viragent.agent.synthetic import generate_screens, make_task
        from viragent.agent.synthetic_lists import make_list_task

        lists = world == "lists"
        name = name or ("viragent_lists" if lists else "viragent_screens")
        with console.status(f"drawing {samples} {'option lists' if lists else 'screens'}"):
            meta = generate_screens(out, samples, seed=seed or 0, name=name, bins=bins, image_position=image,
                                    make=make_list_task if lists else make_task)
    else:
        raise typer.BadParameter(f"unknown world {world!r}: use miniwob, lists, babyai or text",
                                 param_hint="--world")
    console.print(f"{name}: {meta['length']} samples -> {meta['annotation']}")


@app.command("eval")
def eval_cmd(
    policy: list[str] = typer.Option(..., help="expert | random | internvl:<preset, shipped name or checkpoint dir>; "
                                           "repeat to compare policies on the same seeds"),
    suite: str = typer.Option(None, help="comma-separated suites: every expert task of each (miniwob,babyai,desktop)"),
    env: list[str] = typer.Option(None, "--env", help="or: env ids, comma-separated or the option repeated"),
    episodes: int = typer.Option(50, help="episodes per env"),
    seed: int = typer.Option(0, help="first held-out seed"),
    out: Path = typer.Option(..., help="writes OUT/eval.md, OUT/eval.json; each policy's runs under OUT/<policy>/"),
    max_steps: int = typer.Option(None, help="step limit per episode (default: per suite, miniwob 15, babyai 64)"),
    resume: bool = typer.Option(False, help="continue an interrupted evaluation in OUT: finished episodes are kept"),
    env_option: list[str] = typer.Option(None, help=ENV_OPTION_HELP),
    temperature: float = typer.Option(None, help=TEMPERATURE_HELP),
):
    """Success per task on held-out seeds, one column per policy, written as markdown and JSON."""
    from viragent.agent.evaluation import compare, suite_env_ids

    try:
        if env:
            env_ids = _env_ids(env)
        elif suite:
            env_ids = [e for s in suite.split(",") for e in suite_env_ids(s.strip())]
        else:
            raise ValueError("name the tasks: --suite miniwob,babyai or --env miniwob/click-test")
        result = compare(policy, env_ids, episodes, out, seed=seed, max_steps=max_steps, console=console,
                         resume=resume, env_options=_env_options(env_option), temperature=temperature)
    except (ValueError, FileExistsError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
    table = Table(title=f"success on seeds {result['seeds'][0]}..{result['seeds'][1]}")
    table.add_column("env")
    for spec in policy:
        table.add_column(spec, justify="right")
    for env_id in env_ids:
        table.add_row(env_id, *[f"{100 * result['success'][p][env_id]:.0f} %" for p in policy])
    for suite_name in result["suite_means"][policy[0]]:
        table.add_row(f"[bold]{suite_name} mean", *[f"[bold]{100 * result['suite_means'][p][suite_name]:.1f} %"
                                                    for p in policy])
    console.print(table)
    console.print(f"written: {out / 'eval.md'}, {out / 'eval.json'}")


@train_app.command("sft")
def train_sft_cmd(
    data: list[str] = typer.Option(..., help="a *_meta.json from `viragent export` or `viragent screens`; "
                                         "repeat the option to mix datasets, META:R overrides its repeat_time "
                                         "(0.25 keeps a quarter, 2 doubles it)"),
    init: str = typer.Option("tiny", help="a preset (random init) or a checkpoint directory"),
    out: Path = typer.Option(Path("checkpoints/sft"), help="checkpoints; an existing one is resumed"),
    steps: int = typer.Option(1000),
    batch_size: int = typer.Option(16),
    micro_batch: int = typer.Option(16, help="samples per forward pass (gradient accumulation above it)"),
    lr: float = typer.Option(1e-3),
    warmup: int = typer.Option(50),
    seed: int = typer.Option(0),
    eval_env: str = typer.Option(None, help="comma-separated env ids evaluated on held-out seeds during training"),
    eval_every: int = typer.Option(0),
    eval_episodes: int = typer.Option(10),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when available)"),
    pack_tokens: int = typer.Option(0, help="> 0: pack samples into rows of at most this many tokens"),
    region_loss: float = typer.Option(0.0, help="weight of the region-token loss: on samples with `regions` "
                                                "(viragent screens writes them) each visual token names the text "
                                                "under it"),
    position_loss: float = typer.Option(0.0, help="weight of the position-token loss: each visual token's embedding "
                                                  "must name the x cell under its centre (needs --position-bins)"),
    position_bins: int = typer.Option(None, help="the x cells the position-token loss names: the --bins the data "
                                                 "was exported with"),
    pointer_loss: float = typer.Option(0.0, help="weight of the pointer-token loss: on samples whose answer is a "
                                                 "click (and samples exported with a point, export --point-targets), "
                                                 "the visual token under the point must score highest for <box>; "
                                                 "the checkpoint then keeps its clicks on that token"),
    cpu_bf16: bool = typer.Option(False, help="bf16 autocast on a CPU as well (fp32 weights); faster on CPUs with "
                                              "AVX512-BF16 or AMX, slower without (a warning says so)"),
    loader_workers: int = typer.Option(0, help="> 0: DataLoader worker processes that build the batches ahead of "
                                               "the model, for a GPU that one process cannot keep fed (0: inline, "
                                               "as a 2-core CPU wants)"),
    tiles: int = typer.Option(None, help="see every screen as exactly N tiles of the model's tile size, plus a "
                                         "thumbnail when N > 1 (4: a 2x2 grid, 5x the visual tokens); default: "
                                         "the init's tiling. The checkpoint is served with it"),
):
    """Supervised fine-tuning (square-averaged loss on response tokens, AdamW + cosine)."""
    from viragent.agent.training import sft_from_data
    from viragent.model.inference import pick_device_dtype
    from viragent.model.train.sft import SFTConfig, cpu_has_bf16_instructions
    from viragent.tools import InternVLCodec

    if position_loss and not position_bins:
        _fail("--position-loss needs --position-bins N, the --bins the training data was exported with")
    if position_bins is not None and not 2 <= position_bins <= 1000:
        _fail(f"--position-bins must be between 2 and 1000 (the --bins the data was exported with), got {position_bins}")
    # The texts of the action grid's x cells, left to right: what the policy writes after `x=` (tools/codecs.py).
    position_texts = tuple(str(InternVLCodec(position_bins).snap((cell + 0.5) / position_bins))
                           for cell in range(position_bins)) if position_bins else ()
    if cpu_bf16 and pick_device_dtype(device)[0].type == "cpu" and cpu_has_bf16_instructions() is False:
        console.print("[yellow]warning:[/] this CPU has no bf16 instructions (avx512_bf16, amx_bf16 in /proc/cpuinfo), "
                      "so --cpu-bf16 is emulated and slower than fp32 here (0.41x in `viragent bench train` on such "
                      "a machine); leave it out unless you train on a GPU")
    config = SFTConfig(out=str(out), steps=steps, batch_size=batch_size, micro_batch=min(micro_batch, batch_size),
                       lr=lr, warmup_steps=warmup, seed=seed, eval_every=eval_every,
                       pack_tokens=pack_tokens, region_loss=region_loss, position_loss=position_loss,
                       position_texts=position_texts, pointer_loss=pointer_loss, cpu_bf16=cpu_bf16,
                       loader_workers=loader_workers)
    try:
        result = sft_from_data(init, data, config, _env_ids([eval_env]) if eval_env else None,
                               eval_episodes, device=device, console=console, tiles=tiles)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"checkpoint: {result['checkpoint']} (final loss {result['history'][-1]['loss']:.4f})")


@train_app.command("pointer-head")
def train_pointer_head_cmd(
    init: str = typer.Option(..., help="a trained checkpoint directory (viragent train sft's DIR/final)"),
    data: list[str] = typer.Option(..., help="*_meta.json with click answers (exported click tasks, viragent "
                                         "screens); repeat the option to mix"),
    out: Path = typer.Option(..., help="a new directory: the checkpoint, copied, with the head beside it"),
    steps: int = typer.Option(1500, help="steps of 128 clicks for the head (the model stays frozen)"),
    holdout: float = typer.Option(0.05, help="share of the clicks kept apart to report the head's hit rate"),
    move_ratio: float = typer.Option(1.0, help="move a click only where the head is this many times surer of its "
                                               "token than of the one the answer's click lies in (1: always)"),
    seed: int = typer.Option(0),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when available)"),
    cpu_bf16: bool = typer.Option(False, help="bf16 autocast for the frozen model's pass on a CPU"),
):
    """A pointer head on a trained checkpoint's frozen hidden states: its clicks then stay inside the visual
    token the head picks; every other answer is unchanged (GUI-Actor's action head, model/pointer_head.py)."""
    from viragent.agent.head_training import pointer_head_from_data

    try:
        result = pointer_head_from_data(init, data, out, steps=steps, holdout=holdout, move_ratio=move_ratio,
                                        seed=seed, cpu_bf16=cpu_bf16, device=device, console=console)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        _fail(str(exc))
    console.print(f"checkpoint: {result['checkpoint']}")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory made by `viragent run`")):
    """(Re)write RUN_DIR/report.html, also for an interrupted run."""
    from viragent.agent.report import write_report

    try:
        console.print(f"report: {write_report(run_dir)}")
    except FileNotFoundError as exc:
        _fail(str(exc))


@app.command()
def tasks(suite: str = typer.Argument(None, help="only this suite")):
    """List environment suites and their tasks (★ = has a scripted expert)."""
    from viragent.environments import SUITES

    if suite and suite not in SUITES:
        _fail(f"unknown suite {suite!r}; available: {sorted(SUITES)}")
    for name, s in SUITES.items():
        if suite and name != suite:
            continue
        experts = set(s.expert_tasks())
        table = Table(title=f"{name}: {s.description}", show_header=False, box=None)
        for task in s.list_tasks():
            table.add_row(("★ " if task in experts else "  ") + f"{name}/{task}")
        console.print(table)
        console.print(f"{len(s.list_tasks())} tasks, {len(experts)} with an expert\n")


@bench_app.command("env")
def bench_env_cmd(
    env: str = typer.Option("miniwob/click-button", "--env", help="SUITE/TASK"),
    steps: int = typer.Option(50, help="samples per metric"),
):
    """Reset / screenshot / step latency (ms) and steps/s; MiniWoB also against raw Playwright, as a ratio."""
    from viragent.agent.bench import bench_env

    rows = bench_env(env, steps)
    table = Table(title=f"bench env {env} (medians over {steps})")
    for col in ("metric", "viragent", "raw Playwright", "ratio"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["metric"], f"{r['ours_ms']:.2f}", "—" if r["raw_ms"] is None else f"{r['raw_ms']:.2f}",
                      "—" if r["ratio"] is None else f"{r['ratio']:.2f}x")
    console.print(table)


@bench_app.command("model")
def bench_model_cmd(
    preset: str = typer.Option("tiny", help="a preset (random weights): tiny, 1B, 2B, …"),
    new_tokens: int = typer.Option(32, help="decoded tokens per measurement"),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when available)"),
):
    """Prefill ms, decode tokens/s and visual tokens per image, for batch 1 and 8."""
    from viragent.agent.bench import bench_model

    rows = bench_model(preset, new_tokens=new_tokens, device=device)
    table = Table(title=f"bench model {preset} ({rows[0]['device']}, {rows[0]['dtype']}, best of 3)")
    for col in ("batch", "prompt tokens", "visual tokens/image", "prefill ms", "decode tokens/s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["batch"]), str(r["prompt_tokens"]), str(r["visual_tokens_per_image"]),
                      f"{r['prefill_ms']:.1f}", f"{r['decode_tokens_per_s']:.1f}")
    console.print(table)


@bench_app.command("train")
def bench_train_cmd(
    steps: int = typer.Option(8, help="timed optimizer steps per row (one more as warm-up)"),
    batch_size: int = typer.Option(16),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when available)"),
):
    """Training samples/s of the tiny preset on generated screens: SDPA against eager attention, fp32 against bf16
    autocast (`--cpu-bf16`); on CUDA, bf16 autocast only, as the trainer runs there."""
    from viragent.agent.bench import bench_train

    rows = bench_train(steps, batch_size, device=device)
    table = Table(title=f"bench train tiny ({rows[0]['device']}, {rows[0]['threads']} threads, "
                        f"{steps} steps of {batch_size}, {rows[0]['tokens_per_sample']:.0f} tokens/sample)")
    for col in ("attention", "precision", "samples/s", "vs first row"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["attention"] + (" (default here)" if r["default"] else ""), r["precision"],
                      f"{r['samples_per_s']:.1f}", f"{r['samples_per_s'] / rows[0]['samples_per_s']:.2f}x")
    console.print(table)


@bench_app.command("grounding")
def bench_grounding_cmd(
    policy: str = typer.Option("internvl:viragent-tiny", help="internvl:NAME|PRESET|DIR"),
    samples: int = typer.Option(120, help="generated screens to score"),
    single: bool = typer.Option(False, help="one button alone on each screen: seeing, without reading"),
    pointer: bool = typer.Option(True, help="a checkpoint trained with --pointer-loss keeps its clicks on the token "
                                            "it points at, as when it acts; --no-pointer scores its answers alone"),
    world: str = typer.Option("miniwob", help="miniwob: the generated screens; lists: click-option / "
                                              "click-checkboxes pages with random labels (screens --world lists)"),
):
    """Pointing at a named widget on generated screens: hit rate vs chance, and whether the image reaches the LLM."""
    from viragent.agent.grounding import bench_grounding

    if not policy.startswith("internvl:"):
        _fail(f"bench grounding measures an InternVL policy (internvl:NAME|PRESET|DIR), not {policy!r}")
    if world not in ("miniwob", "lists") or (single and world == "lists"):
        _fail(f"--world is miniwob or lists (and --single goes with miniwob), not {world!r}"
              + (" with --single" if single else ""))
    r = bench_grounding(policy.removeprefix("internvl:"), samples=samples, single=single, use_pointer=pointer,
                        world=world)
    table = Table(title=f"bench grounding {policy} ({samples} generated "
                        f"{'option lists' if world == 'lists' else 'screens'}{', one button each' if single else ''}"
                        f"{', clicks kept on the pointed token' if r['pointer'] else ''})")
    for col in ("hit rate", "chance", "distinct answers", "x / y error px", "x / y corr", "content ratio",
                "visual token norm", "text emb. norm"):
        table.add_column(col, justify="right")

    def pair(a, b, fmt: str) -> str:
        return "-" if a is None else f"{a:{fmt}} / {b:{fmt}}"

    table.add_row(f"{r['hit_rate']:.1%}", f"{r['chance']:.1%}", str(r["distinct_answers"]),
                  pair(r["x_error_px"], r["y_error_px"], ".1f"), pair(r["x_corr"], r["y_corr"], ".2f"),
                  f"{r['content_ratio']:.4f}", f"{r['visual_token_norm']:.1f}", f"{r['text_embedding_norm']:.2f}")
    console.print(table)


@bench_app.command("pointer")
def bench_pointer_cmd(
    policy: str = typer.Option("internvl:viragent-tiny", help="internvl:NAME|DIR with a pointer head or pointer"),
    samples: int = typer.Option(24, help="generated screens, one click step each"),
):
    """A click step's ms with the pointer reading the answer's own prefill, against a second forward pass."""
    from viragent.agent.bench import bench_pointer

    try:
        rows = bench_pointer(policy.removeprefix("internvl:"), samples)
    except ValueError as exc:
        _fail(str(exc))
    table = Table(title=f"bench pointer {policy} ({rows[0]['device']}, medians over {samples} click steps)")
    for col in ("path", "ms", "vs answer alone"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["path"], f"{r['ms']:.1f}", f"{r['ms'] / rows[0]['ms']:.2f}x")
    console.print(table)


@model_app.command("params")
def model_params_cmd():
    """Parameter counts of every preset (built on the meta device) next to the model cards' figures."""
    from viragent.model.config import PRESETS, PUBLISHED, parameter_counts_of

    table = Table(title="InternVL3.5 presets: parameters (model card in brackets)")
    for col in ("preset", "ViT", "MLP", "LLM", "total"):
        table.add_column(col, justify="right")
    fmt = lambda n: f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.2f}M"  # noqa: E731
    for name in PRESETS:
        counts = parameter_counts_of(name)
        card = PUBLISHED[name][2] if name in PUBLISHED else None
        cells = [fmt(counts[k]) + (f" [{fmt(card[i])}]" if card else "") for i, k in enumerate(("vit", "mlp", "llm"))]
        table.add_row(name, *cells, fmt(sum(counts.values())))
    console.print(table)


@model_app.command("ship")
def model_ship_cmd(
    checkpoint: Path = typer.Argument(..., help="a checkpoint directory trained here (e.g. runs/X/instruct/final)"),
    name: str = typer.Argument(..., help="the name it ships as: --policy internvl:NAME"),
    bf16: bool = typer.Option(False, help="store the weights in bf16 (half the size)"),
    temperature: list[str] = typer.Option(None, help="SUITE=T: the shipped policy samples at temperature T in that "
                                                     "suite by default (e.g. babyai=1.0); elsewhere greedy"),
):
    """Copy a trained checkpoint into the package's model/weights/ (then add its model card, README.md)."""
    from viragent.model.loading import CheckpointNotFound, ship_checkpoint

    temperatures = _key_values(temperature, "--temperature", "SUITE=T", "babyai=1.0")
    for suite, value in temperatures.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            _fail(f"--temperature wants SUITE=T with T a number >= 0, not {suite}={value} (e.g. babyai=1.0)")
    decoding = {suite: {"temperature": float(value)} for suite, value in temperatures.items()}
    try:
        console.print(f"shipped: {ship_checkpoint(checkpoint, name, bf16=bf16, decoding=decoding)}")
    except (CheckpointNotFound, FileExistsError, FileNotFoundError) as exc:
        _fail(str(exc))


@model_app.command("list")
def model_list_cmd():
    """Trained checkpoints installed with viragent (usable as --policy internvl:NAME)."""
    import json

    from viragent.model.loading import shipped_checkpoints

    table = Table(title="shipped checkpoints")
    for col in ("name", "size", "trained", "path"):
        table.add_column(col)
    for name, directory in shipped_checkpoints().items():
        meta = json.loads((directory / "viragent.json").read_text()) if (directory / "viragent.json").exists() else {}
        size = sum(f.stat().st_size for f in directory.iterdir()) / 1e6
        table.add_row(name, f"{size:.1f} MB", f"{meta.get('steps_done', '?')} steps from {meta.get('init', '?')}",
                      str(directory))
    console.print(table)


if __name__ == "__main__":
    app()
