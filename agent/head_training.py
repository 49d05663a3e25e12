"""`viragent train pointer-head`: a trained checkpoint plus a pointer head trained on its frozen hidden states.

The result is a copy of the checkpoint with `pointer_head.safetensors` beside the weights and `"pointer": {"head":
…, "bins": …, "move_ratio": …}` in its viragent.json, so `internvl:DIR` moves its clicks into the visual token the
head picks where the head is that much surer of it than of the answer's (InternVLPolicy.point_click). The model's
weights are copied unchanged: every answer it writes stays the same, only where a click lands can move. The head's
loss and its held-out hit rate (the share of held-out clicks whose token the head picks) are printed and recorded.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from viragent.model.config import PRESETS
from viragent.model.loading import resolve_checkpoint
from viragent.model.pointer_head import HEAD_FILE
from viragent.model.train.pointer_head import head_features, pointer_hits, train_pointer_head

from .datasets import load_mixture
from .internvl_policy import InternVLPolicy
from .training import add_click_points


def pointer_head_from_data(init: str, data: list[str], out: str | Path, steps: int = 1500, holdout: float = 0.05,
                           move_ratio: float = 1.0, seed: int = 0, cpu_bf16: bool = False, device: str | None = None,
                           console: Console | None = None) -> dict:
    """Train the head on the clicks of `data` (`META[:REPEAT]` each; repeats are not needed: each distinct
    sample is used once for features), keep `holdout` of them apart to measure it, and write the checkpoint, whose
    clicks move only where the head is `move_ratio` times surer of its token than of the answer's."""
    if move_ratio < 1:
        raise ValueError(f"--move-ratio {move_ratio} is below 1; it is how many times surer of its own token than of "
                         f"the answer's the head must be to move a click (1: whenever they differ)")
    console = console or Console()
    if init in PRESETS:
        raise ValueError(f"--init {init} is a random-weight preset; a pointer head reads a trained checkpoint's hidden "
                         f"states: pass a checkpoint directory (viragent train sft --out DIR writes DIR/final)")
    source, out = resolve_checkpoint(init), Path(out)
    if out.exists() and any(out.iterdir()):  # checked first: the head is written with a copy of the model
        raise FileExistsError(f"{out} is not empty; choose a new --out")
    policy = InternVLPolicy.from_spec(init, seed=seed, device=device)
    samples = load_mixture(data, seed=seed)
    add_click_points(samples)
    distinct = {}
    for s in samples:  # the mixture's repeats would only cost time here
        if "point" in s:  # add_click_points gives one only to one-image samples
            distinct.setdefault((str(s["image"]), s["conversations"][0]["value"]), s)
    clicks = list(distinct.values())
    if len(clicks) < 20:
        raise ValueError(f"{', '.join(data)} hold {len(clicks)} one-image samples with a click; the pointer head "
                         f"needs clicks to learn from (export runs of click tasks, or `viragent screens`)")
    random.Random(seed).shuffle(clicks)
    n_held = max(1, round(holdout * len(clicks))) if holdout > 0 else 0
    held, train = clicks[:n_held], clicks[n_held:]
    console.print(f"pointer head: {len(train)} clicks to train on, {len(held)} held out, init {init}")
    engine, started = policy.engine, time.perf_counter()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("features", total=len(clicks), status="frozen model, one pass")
        advance = lambda n: progress.advance(bar, n)  # noqa: E731
        features = head_features(engine.model, engine.processor, train, cpu_bf16=cpu_bf16, advance=advance)
        held_features = head_features(engine.model, engine.processor, held, cpu_bf16=cpu_bf16,
                                      advance=advance) if held else None
        fit = progress.add_task("head", total=steps, status="")
        head, losses = train_pointer_head(features, engine.processor.tokens_per_tile, steps=steps, seed=seed,
                                          advance=lambda step, loss: progress.update(fit, completed=step,
                                                                                     status=f"loss {loss:.3f}"))
    hits = pointer_hits(head, held_features) if held_features else []
    held_rate = sum(hits) / len(hits) if hits else None
    last = losses[-min(100, len(losses)):]
    console.print(f"pointer head: loss {sum(last) / len(last):.3f} over its last {len(last)} steps; held-out "
                  + (f"hits {sum(hits)}/{len(hits)} ({held_rate:.1%})" if hits else "none kept (--holdout 0)"))
    shutil.copytree(source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.pt", HEAD_FILE))
    head.save(out)
    meta_file = out / "viragent.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    bins = len(meta.get("sft", {}).get("position_texts") or ()) or None  # the grid the answers were trained on
    meta["pointer"] = {"head": HEAD_FILE, "bins": bins, "move_ratio": move_ratio}
    meta["pointer_head"] = {"init": init, "data": data, "clicks": len(train), "held_out": len(held),
                            "held_out_hits": held_rate, "steps": steps, "final_loss": sum(last) / len(last),
                            "wall_s": round(time.perf_counter() - started, 1)}
    meta_file.write_text(json.dumps(meta, indent=2))
    return {"checkpoint": str(out), "held_out_hits": held_rate, "losses": losses}
