"""The agent side of training: pick the starting model, read the exported data, evaluate in real envs.

`model.train.sft` knows conversations and tensors only; the periodic in-env evaluation hook lives here
because only the agent may join a model to an environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from rich.console import Console

from viragent.model.train.sft import SFTConfig, train_sft
from viragent.tools import Click, get_codec

from .datasets import load_mixture, mixture_env_options
from .evaluation import EVAL_SEED_START, evaluate
from .internvl_policy import InternVLPolicy
from .prompts import CARRYING_LINE, LOOK_QUESTION, SEEN_LINE, image_position


def sft_from_data(init: str, data: list[str] | str | Path, config: SFTConfig, eval_env_ids: list[str] | None = None,
                  eval_episodes: int = 10, device: str | None = None, console: Console | None = None,
                  tiles: int | None = None) -> dict:
    """Fine-tune `init` (a preset or checkpoint dir) on exported datasets (`META[:REPEAT]` each); evaluate in
    real envs every eval_every steps. `tiles`: see every image as exactly that many tiles (a thumbnail added
    when more than one) instead of the init's tiling; the checkpoint records it and is served with it."""
    console = console or Console()
    # fp32 master weights on every device: on CUDA the policy would otherwise load in bf16, its serving dtype, and
    # AdamW would step bf16 weights, losing updates below their precision. The loss runs under bf16 autocast there.
    policy = InternVLPolicy.from_spec(init, seed=config.seed, device=device, dtype=torch.float32)
    if tiles is not None:
        if tiles < 1:
            raise ValueError(f"tiles must be at least 1 (1: one tile; 4: a 2 x 2 grid and a thumbnail), got {tiles}")
        # The ViT and projector work tile by tile, so any checkpoint takes more tiles; the LLM has to learn the
        # longer image block. A small screen (MiniWoB's 160 x 210) would get one tile under InternVL's own rule
        # (max_tiles only caps it), so min_tiles forces the count.
        policy.engine.processor.min_tiles = policy.engine.processor.max_tiles = tiles
    data = [str(data)] if isinstance(data, (str, Path)) else [str(d) for d in data]
    samples = load_mixture(data, seed=config.seed)
    if not samples:
        raise ValueError(f"{', '.join(data)} name no samples; export a run with successful episodes first")
    console.print(f"sft: {len(samples)} samples, init {init}, {config.steps} steps of {config.batch_size}")
    if config.pointer_loss:
        pointed = add_click_points(samples)
        console.print(f"pointer-token loss on the {pointed} samples with a point (clicks; exported targets)")
        # Served with it: the policy reads the marker's logits, and writes clicks on the data's grid.
        policy.pointer = {"token": config.pointer_token, "bins": len(config.position_texts) or None}
    # The checkpoint is served with the prompt layout it was trained on (recorded below, read by from_spec).
    policy.image = data_image_position(samples, data) or policy.image
    # Look-first per suite as the data's demonstrations of that suite were written; other suites keep the init's.
    demonstrated = {suite for suite, _ in demonstrations(samples)}
    policy.look = {**{k: v for k, v in policy.look.items() if k not in demonstrated}, **data_looks(samples)}
    # Likewise the suites whose prompts say what the agent holds (export --carrying)
    policy.carrying = sorted({s for s in policy.carrying if s not in demonstrated} | data_carrying(samples))
    # Per suite the data's env options win over the init checkpoint's (empty ones too: full-view data makes a
    # full-view policy even from an egocentric init).
    served = {**policy.env_options, **mixture_env_options(data)}
    policy.env_options = {suite: options for suite, options in served.items() if options}

    def evaluate_in_envs(model, step: int) -> dict:
        policy.engine.model = model
        with tempfile.TemporaryDirectory() as tmp:
            table = evaluate(f"{policy.name}@step{step}", eval_env_ids, eval_episodes, Path(tmp) / "eval",
                             seed=EVAL_SEED_START, policy=policy, console=console, show_progress=False)
        return {r["env"]: r["success"] for r in table["rows"]}

    hook = evaluate_in_envs if eval_env_ids else None
    return train_sft(policy.engine.model, policy.engine.processor, samples, config, evaluate=hook,
                     meta={"init": init, "data": data, "processor": policy.processor_settings(),
                           "prompt": {"image": policy.image, **({"look": policy.look} if policy.look else {}),
                                      **({"carrying": policy.carrying} if policy.carrying else {})},
                           "env": policy.env_options, **({"pointer": policy.pointer} if policy.pointer else {})})


def add_click_points(samples: list[dict]) -> int:
    """Give each one-image sample whose answer is a click its point, {"point": [x, y]} 0-1000 (InternVL's
    grounding convention, what model.train.pointer_tokens reads); returns how many have one."""
    codec, pointed = get_codec("internvl"), 0
    for s in samples:
        image = s.get("image")
        one_image = isinstance(image, str) or (isinstance(image, list) and len(image) == 1)
        if "point" not in s and one_image:
            answer = next((turn["value"] for turn in s["conversations"] if turn["from"] == "gpt"), "")
            if isinstance(action := codec.parse(answer), Click):
                s["point"] = [round(action.x * 1000), round(action.y * 1000)]
        pointed += "point" in s
    return pointed


def data_image_position(samples: list[dict], data: list[str]) -> str | None:
    """Where the screenshot sits in the samples' prompts ("first"/"last"; None when no prompt is ours). A
    mixture of both would train a policy that cannot be served one way, so it is refused."""
    found = {image_position(next((turn["value"] for turn in s["conversations"] if turn["from"] == "human"), ""))
             for s in samples} - {None}
    if len(found) > 1:
        raise ValueError(f"the data ({', '.join(data)}) mixes prompts with the image first and last; export "
                         f"every dataset with the same --image")
    return found.pop() if found else None


def demonstrations(samples: list[dict]):
    """(suite, prompt) of each sample exported from a run: env ids like "babyai/goto", not generated screens
    ("generated/…") or text-only samples."""
    for s in samples:
        env_id = s.get("env_id", "")
        if s.get("image") and "/" in env_id and not env_id.startswith("generated/"):
            yield env_id.split("/")[0], s["conversations"][0]["value"]


def data_looks(samples: list[dict]) -> dict[str, str]:
    """Suite -> the question a look-first policy asks itself there: the suites whose demonstrations say in the
    prompt what the agent faces (export --look-first)."""
    return {suite: LOOK_QUESTION for suite in sorted(suites_whose_prompts_say(samples, SEEN_LINE))}


def data_carrying(samples: list[dict]) -> set[str]:
    """The suites whose demonstrations say in the prompt what the agent holds (export --carrying)."""
    return suites_whose_prompts_say(samples, CARRYING_LINE)


def suites_whose_prompts_say(samples: list[dict], line: str) -> set[str]:
    """The suites with a demonstration whose prompt has a line starting with `line` (a prompts.*_LINE)."""
    return {suite for suite, prompt in demonstrations(samples) if f"\n{line}" in prompt}
