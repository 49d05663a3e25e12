"""Supervised fine-tuning of InternVL on conversations with images (InternVL's SFT format).

Loss on response tokens only, with InternVL's square averaging: each sample's tokens weigh 1/sqrt(N), N its
supervised tokens, loss = sum(w * CE) / sum(w) over the whole (accumulated) batch. The loop is nanoGPT-style:
hyper-parameters in one dataclass, the loop readable in one screen. CPU fp32, CUDA bf16 autocast.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..loading import save_checkpoint
from ..processor import IM_END, InternVLChatProcessor, normalize_tiles

IGNORE = -100


# ---- the loss, a pure function of tensors ----------------------------------------------------------------
def square_average_weights(n_supervised: torch.Tensor) -> torch.Tensor:
    """w = 1/sqrt(N) per sample (0 for a sample with nothing supervised)."""
    n = n_supervised.float()
    return torch.where(n > 0, n.clamp(min=1).rsqrt(), torch.zeros_like(n))


def square_averaged_loss_terms(token_losses: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(numerator, denominator) of the loss for one micro-batch: sum(w*l) and sum(w) over supervised tokens.

    token_losses, mask: (batch, tokens). Kept apart so gradient accumulation divides by the whole batch's sum.
    """
    weights = square_average_weights(mask.sum(dim=1))  # (batch,)
    per_token_w = weights[:, None] * mask.float()
    return (per_token_w * token_losses).sum(), per_token_w.sum()


def square_average_denominator(mask: torch.Tensor) -> torch.Tensor:
    """sum(w) over supervised tokens = sum_i sqrt(N_i): what a whole accumulated batch divides by."""
    n = mask.sum(dim=1)
    return (square_average_weights(n) * n).sum()


def square_averaged_loss(token_losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    numerator, denominator = square_averaged_loss_terms(token_losses, mask)
    return numerator / denominator.clamp(min=1e-12)


# ---- data -------------------------------------------------------------------------------------------------
def encode_sample(sample: dict, processor: InternVLChatProcessor, image_cache: dict | None = None) -> dict:
    """One InternVL SFT sample -> input ids, labels (prompt masked) and its tiles."""
    tok = processor.tokenizer
    images = sample["image"] if isinstance(sample["image"], list) else [sample["image"]]
    tiles = []
    for image in images:  # a path (cached: screens repeat across steps) or an in-memory PIL image
        if isinstance(image, Image.Image):
            tiles.append(normalize_tiles(processor.tiles(image)))
            continue
        # The cache keeps the 8-bit tiles (150 KB a 224-px tile), not the float32 tensor (4x that): tens of
        # thousands of screens must fit in memory, and normalising again costs about a millisecond.
        if image_cache is None or image not in image_cache:
            cut = processor.tiles(Image.open(image))
            if image_cache is None:
                tiles.append(normalize_tiles(cut))
                continue
            image_cache[image] = cut
        tiles.append(normalize_tiles(image_cache[image]))
    human, gpt = sample["conversations"][0]["value"], sample["conversations"][1]["value"]
    prompt = processor.prompt(human, [t.shape[0] for t in tiles])
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tok(gpt + IM_END, add_special_tokens=False)["input_ids"]
    return {"input_ids": prompt_ids + response_ids, "labels": [IGNORE] * len(prompt_ids) + response_ids,
            "pixel_values": torch.cat(tiles)}


def _token_weights(labels: list[int]) -> torch.Tensor:
    """Square averaging per token: square_average_weights' 1/sqrt(N) on each of a sample's N supervised
    tokens (at the label's own position, so aligned with labels[1:]), 0 elsewhere."""
    supervised = torch.tensor(labels) != IGNORE
    return square_average_weights(supervised.sum()[None])[0] * supervised.float()


def collate(encoded: list[dict], pad_id: int) -> dict:
    """One sample per row, right-padded."""
    width = max(len(e["input_ids"]) for e in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    weights = torch.zeros((len(encoded), width))
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e["input_ids"])
        input_ids[row, :n], labels[row, :n], mask[row, :n] = torch.tensor(e["input_ids"]), torch.tensor(e["labels"]), 1
        weights[row, :n] = _token_weights(e["labels"])
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask, "weights": weights,
            "pixel_values": torch.cat([e["pixel_values"] for e in encoded])}


def collate_packed(encoded: list[dict], pad_id: int, row_tokens: int) -> dict:
    """Several samples per row, in order, each row at most `row_tokens` long (a longer sample gets its own).

    position_ids restart at 0 for every sample and attention_mask is left out: transformers then builds a
    block-diagonal causal mask from the position ids, so packed samples never see each other. Images stay in
    sample order, which is the order their <IMG_CONTEXT> runs appear in the flattened batch.
    """
    rows: list[list[dict]] = [[]]
    lengths = [0]  # tokens in each row so far
    for e in encoded:
        n = len(e["input_ids"])
        if rows[-1] and lengths[-1] + n > row_tokens:
            rows.append([])
            lengths.append(0)
        rows[-1].append(e)
        lengths[-1] += n
    width = max(lengths)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    weights = torch.zeros((len(rows), width))
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for e in row:
            n = len(e["input_ids"])
            input_ids[r, at:at + n], labels[r, at:at + n] = torch.tensor(e["input_ids"]), torch.tensor(e["labels"])
            weights[r, at:at + n] = _token_weights(e["labels"])
            position_ids[r, at:at + n] = torch.arange(n)
            at += n
        position_ids[r, at:] = torch.arange(width - at)  # the padding is one more (unsupervised) sequence
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "weights": weights,
            "pixel_values": torch.cat([e["pixel_values"] for e in encoded])}


# ---- the loop ---------------------------------------------------------------------------------------------
@dataclass
class SFTConfig:
    out: str = "checkpoints/sft"
    steps: int = 1000
    batch_size: int = 16  # samples per optimizer step (micro_batch * accumulation)
    micro_batch: int = 16
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int = 250
    eval_every: int = 0  # 0: no in-training evaluation
    log_every: int = 10
    pack_tokens: int = 0  # > 0: pack each micro-batch into rows of at most this many tokens (no padding waste)


def cosine_lr(step: int, config: SFTConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def micro_batch_loss_terms(model, batch: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of w * CE, sum of w) over the micro-batch's supervised tokens, w the square-averaging weights."""
    dtype = next(model.parameters()).dtype
    inputs = {"input_ids": batch["input_ids"].to(device), "pixel_values": batch["pixel_values"].to(device, dtype)}
    if "position_ids" in batch:  # packed rows: no attention_mask, so transformers masks per sample
        inputs["position_ids"] = batch["position_ids"].to(device)
    else:
        inputs["attention_mask"] = batch["attention_mask"].to(device)
    # use_cache=False: with a cache object transformers would not look for packed sequences.
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
        logits = model(**inputs, use_cache=False).logits
    labels = batch["labels"].to(device)[:, 1:]  # position t predicts token t+1
    weights = batch["weights"].to(device)[:, 1:]
    token_losses = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels.clamp(min=0),
                                                     reduction="none")
    return (weights * token_losses).sum(), weights.sum()


def train_sft(model, processor: InternVLChatProcessor, samples: list[dict], config: SFTConfig,
              evaluate: Callable[[object, int], dict] | None = None, meta: dict | None = None) -> dict:
    """Train in place; checkpoints (model + optimizer + step) go to config.out and are resumed from there."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.95))
    start, history = 0, []
    state_file = out / "trainer_state.pt"
    if state_file.exists():  # resume
        state = torch.load(state_file, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["step"], state["history"]
    rng = random.Random(config.seed)
    started = time.perf_counter()
    cache: dict = {}  # image path -> its tiles: screens repeat across steps
    model.train()
    progress = Progress(TextColumn("[bold]sft"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                        TimeRemainingColumn())
    with progress:
        bar = progress.add_task("sft", total=config.steps, completed=start, status="")
        t_last, seen = time.perf_counter(), 0
        for step in range(start, config.steps):
            # The sample order is a pure function of (seed, step), so a resumed run sees the same data.
            rng.seed(config.seed * 1_000_003 + step)
            order = [rng.randrange(len(samples)) for _ in range(config.batch_size)]
            encoded = [encode_sample(samples[i], processor, cache) for i in order]
            pad = processor.tokenizer.pad_token_id
            micro = [collate_packed(encoded[k:k + config.micro_batch], pad, config.pack_tokens) if config.pack_tokens
                     else collate(encoded[k:k + config.micro_batch], pad)
                     for k in range(0, len(encoded), config.micro_batch)]
            denominator = sum(m["weights"][:, 1:].sum() for m in micro)  # sum_i sqrt(N_i) over the whole batch
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(step, config)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for m in micro:
                numerator, _ = micro_batch_loss_terms(model, m, device)
                (numerator / denominator).backward()
                total += numerator.item() / denominator.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            seen += len(encoded)
            record = {"step": step + 1, "loss": total, "lr": optimizer.param_groups[0]["lr"]}
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                record["samples_per_s"] = seen / (time.perf_counter() - t_last)
                t_last, seen = time.perf_counter(), 0
            if evaluate is not None and config.eval_every and (step + 1) % config.eval_every == 0:
                model.eval()
                record["eval"] = evaluate(model, step + 1)
                model.train()
            history.append(record)
            progress.update(bar, advance=1, status=f"loss {total:.3f} lr {record['lr']:.1e}")
            if "samples_per_s" in record and not progress.console.is_terminal:  # logs, CI: no live bar there
                progress.console.print(f"step {step + 1}/{config.steps} loss {total:.4f} lr {record['lr']:.2e} "
                                       f"{record['samples_per_s']:.1f} samples/s" + (f" eval {record['eval']}" if "eval" in record else ""))
            if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1,
                            "history": history}, state_file)
    model.eval()
    final = save_checkpoint(model, processor.tokenizer, out / "final",
                            {**(meta or {}), "sft": asdict(config), "steps_done": config.steps,
                             "wall_s_last_session": round(time.perf_counter() - started, 1),
                             "device": str(device), "torch_threads": torch.get_num_threads(),
                             "final_loss": history[-1]["loss"] if history else None})
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return {"checkpoint": str(final), "history": history}
