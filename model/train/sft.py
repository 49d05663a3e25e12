"""Supervised fine-tuning of InternVL on conversations with images (InternVL's SFT format).

Loss on response tokens only, with InternVL's square averaging: each sample's tokens weigh 1/sqrt(N), N its
supervised tokens, loss = sum(w * CE) / sum(w) over the whole (accumulated) batch; plus, with `region_loss`, the
region-token loss on samples that carry `regions` (model.train.region_tokens) and, with `position_loss`, the
position-token loss on every visual token (model.train.position_tokens) and, with `pointer_loss`, the pointer-token
loss on samples that carry a `point` (model.train.pointer_tokens). The loop is nanoGPT-style:
hyper-parameters in one dataclass, the loop readable in one screen. CPU fp32 (bf16 autocast with
`cpu_bf16`), CUDA bf16 autocast.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import torch
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..loading import save_checkpoint
from ..processor import IM_END, InternVLChatProcessor, normalize_tiles
from .pointer_tokens import pointer_loss_terms, pointer_targets
from .position_tokens import position_token_loss_terms, token_centres_x
from .region_tokens import region_token_labels, region_token_loss_terms, token_boxes

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
def encode_sample(sample: dict, processor: InternVLChatProcessor, image_cache: dict | None = None,
                  label_cache: dict | None = None) -> dict:
    """One InternVL SFT sample -> input ids, labels (prompt masked), its tiles, each visual token's horizontal
    centre (model.train.position_tokens) and, when the sample has `regions`, the region-token label of each of its
    visual tokens (model.train.region_tokens). `image_cache` keeps the screens' tiles, `label_cache` (by default
    the same dict) the region labels."""
    tok = processor.tokenizer
    label_cache = image_cache if label_cache is None else label_cache
    # A sample without "image" is pure text, as InternVL's own SFT data allows: its prompt has no <image>.
    images = sample.get("image") or []
    images = images if isinstance(images, list) else [images]
    tiles, grids = [], []
    for image in images:  # a path (cached: screens repeat across steps) or an in-memory PIL image
        if isinstance(image, Image.Image):
            cut, grid = processor.tiles(image), processor.tile_grid(image.size)
        elif image_cache is not None and image in image_cache:
            cut, grid = image_cache[image]
        else:
            # The cache keeps the 8-bit tiles (150 KB a 224-px tile), not the float32 tensor (4x that): tens of
            # thousands of screens must fit in memory, and normalising again costs about a millisecond.
            with Image.open(image) as opened:
                cut, grid = processor.tiles(opened), processor.tile_grid(opened.size)
            if image_cache is not None:
                image_cache[image] = (cut, grid)
        tiles.append(normalize_tiles(cut))
        grids.append(grid)
    human, gpt = sample["conversations"][0]["value"], sample["conversations"][1]["value"]
    prompt = processor.prompt(human, [t.shape[0] for t in tiles])
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tok(gpt + IM_END, add_special_tokens=False)["input_ids"]
    size = processor.tile
    encoded = {"input_ids": prompt_ids + response_ids, "labels": [IGNORE] * len(prompt_ids) + response_ids,
               "pixel_values": torch.cat(tiles) if tiles else torch.zeros(0, 3, size, size), "n_visual": sum(t.shape[0] for t in tiles) * processor.tokens_per_tile,
               "centres_x": _centres_x(grids, processor)}
    if regions := sample.get("regions"):
        # Labelling costs a tokenizer call per word, twice a batch's model time with region-heavy data, so the
        # labels are cached too. The key is the regions object itself, which the cache keeps alive so that its
        # id cannot be reused while the entry exists.
        key = ("regions", id(regions))
        if label_cache is not None and key in label_cache:
            labels = label_cache[key][1]
        else:
            labels = _region_labels(regions, grids, processor)
            if label_cache is not None:
                label_cache[key] = (regions, labels)
        encoded["region_labels"] = labels
    if (point := sample.get("point")) is not None and len(grids) == 1:
        encoded["pointer"] = pointer_targets(point, _token_boxes(grids[0], processor))
    return encoded


def _region_labels(regions: list, grids: list[tuple[int, int]], processor: InternVLChatProcessor) -> torch.Tensor:
    """Region-token labels for all of a sample's visual tokens; `regions` is one list per image (or one list
    for a single image)."""
    per_image = [regions] if regions and isinstance(regions[0], dict) else regions
    if len(per_image) != len(grids):
        raise ValueError(f"a sample has regions for {len(per_image)} images but {len(grids)} images")
    tok = processor.tokenizer

    def first_token(text: str) -> int:
        return tok(text, add_special_tokens=False)["input_ids"][0]

    return torch.cat([region_token_labels(image_regions, _token_boxes(grid, processor), first_token, tok.pad_token_id)
                      for image_regions, grid in zip(per_image, grids)])


def _token_boxes(grid: tuple[int, int], processor: InternVLChatProcessor) -> tuple:
    """The part of the image each visual token of one image stands for (model.train.region_tokens)."""
    return token_boxes(tuple(grid), processor.thumbnail, processor.tokens_per_tile)


def _centres_x(grids: list[tuple[int, int]], processor: InternVLChatProcessor) -> torch.Tensor:
    return torch.cat([token_centres_x(_token_boxes(grid, processor)) for grid in grids] or [torch.zeros(0)])


def _visual_labels(encoded: list[dict]) -> torch.Tensor | None:
    """Region-token labels of a batch in image order (IGNORE for samples without regions); None if none has any."""
    if not any("region_labels" in e for e in encoded):
        return None
    return torch.cat([e.get("region_labels", torch.full((e["n_visual"],), IGNORE)) for e in encoded])


def _pointer_spans(encoded: list[dict]) -> list[tuple[int, int, list[int]]]:
    """(first visual token, visual tokens, pointer targets) of each sample with a point, in image order."""
    spans, start = [], 0
    for e in encoded:
        if e.get("pointer"):
            spans.append((start, e["n_visual"], e["pointer"]))
        start += e["n_visual"]
    return spans


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
    batch = {"input_ids": input_ids, "labels": labels, "attention_mask": mask, "weights": weights,
             "pixel_values": torch.cat([e["pixel_values"] for e in encoded]),
             "centres_x": torch.cat([e["centres_x"] for e in encoded])}
    if (visual := _visual_labels(encoded)) is not None:
        batch["region_labels"] = visual
    batch["pointer_spans"] = _pointer_spans(encoded)
    return batch


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
    batch = {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "weights": weights,
             "pixel_values": torch.cat([e["pixel_values"] for e in encoded]),
             "centres_x": torch.cat([e["centres_x"] for e in encoded])}
    if (visual := _visual_labels(encoded)) is not None:  # rows keep sample order, so image order holds
        batch["region_labels"] = visual
    batch["pointer_spans"] = _pointer_spans(encoded)
    return batch


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
    region_loss: float = 0.0  # weight of the region-token loss on samples with `regions` (model.train.region_tokens)
    position_loss: float = 0.0  # weight of the position-token loss on every visual token (model.train.position_tokens)
    # The texts naming equal cells across an image's width, left to right, each one token (needed with position_loss).
    position_texts: tuple[str, ...] = ()
    pointer_loss: float = 0.0  # weight of the pointer-token loss on samples with a `point` (model.train.pointer_tokens)
    pointer_token: str = "<box>"  # the marker whose logit points; one token of the vocabulary
    # bf16 autocast on a CPU too (weights and optimizer stay fp32, as with CUDA bf16). CPUs with AVX512-BF16 or
    # AMX run the matmuls faster in bf16 (1.25x on one machine here, `viragent bench train`); CPUs without them
    # emulate it (0.41x on another). Off by default, so that the library does not change numerics unasked; the tiny
    # recipe turns it on where cpu_has_bf16_instructions().
    cpu_bf16: bool = False
    # > 0: this many DataLoader worker processes encode the batches ahead of the model (step_batches); for a GPU,
    # which one process cannot keep fed. 0 (the default) builds each batch inline, as a 2-core CPU wants.
    loader_workers: int = 0


def cpu_has_bf16_instructions(cpuinfo: str | Path = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), from Linux's cpuinfo; None where unknown."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return None
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def _position_token_ids(config: SFTConfig, tokenizer) -> torch.Tensor:
    """The token ids of config.position_texts; each text must be exactly one token of the model's vocabulary."""
    if len(config.position_texts) < 2:
        raise ValueError("position_loss needs position_texts: the texts naming cells across the width, left to right "
                         "(viragent train sft --position-bins N names the N cells of the action grid)")
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in config.position_texts]
    if bad := [text for text, tokens in zip(config.position_texts, ids) if len(tokens) != 1]:
        raise ValueError(f"position texts {bad[:5]} are not single tokens of this tokenizer, so the position-token "
                         "loss cannot point at them; use the bins the training data was exported with")
    return torch.tensor([tokens[0] for tokens in ids])


def _pointer_token_id(config: SFTConfig, tokenizer) -> int:
    ids = tokenizer(config.pointer_token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"the pointer token {config.pointer_token!r} is {len(ids)} tokens of this tokenizer, not one; "
                         "name a special token it has (InternVL's tokenizers have <box>)")
    return ids[0]


def cosine_lr(step: int, config: SFTConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class LossTerms(NamedTuple):
    """One micro-batch's parts of the loss; each sum is divided by its count over the whole accumulated batch."""
    numerator: torch.Tensor  # sum of w * CE over supervised response tokens (square averaging)
    denominator: torch.Tensor  # sum of w
    region_sum: torch.Tensor  # sum of CE over visual tokens with a region-token label
    region_count: torch.Tensor  # how many visual tokens have one
    position_sum: torch.Tensor  # sum of CE of the position-token loss over visual tokens (0 when not asked for)
    position_count: torch.Tensor  # how many visual tokens it covers
    pointer_sum: torch.Tensor = torch.zeros(())  # sum of CE of the pointer-token loss over images with a point
    pointer_count: torch.Tensor = torch.zeros(())  # how many images have one


def micro_batch_loss_terms(model, batch: dict, device, cpu_bf16: bool = False,
                           position_token_ids: torch.Tensor | None = None, pointer_token_id: int | None = None
                           ) -> LossTerms:
    """The language loss terms (w the square-averaging weights), the region-token terms (0 without regions),
    given the ids of the texts naming positions across the width, the position-token terms (else 0) and, given the
    pointer token's id, the pointer-token terms over the samples with a point (else 0)."""
    dtype = next(model.parameters()).dtype
    input_ids = batch["input_ids"].to(device)
    inputs = {"input_ids": input_ids}
    if len(batch["pixel_values"]):  # a batch of pure-text samples has no image for the vision tower
        inputs["pixel_values"] = batch["pixel_values"].to(device, dtype)
    if "position_ids" in batch:  # packed rows: no attention_mask, so transformers masks per sample
        inputs["position_ids"] = batch["position_ids"].to(device)
    else:
        inputs["attention_mask"] = batch["attention_mask"].to(device)
    # use_cache=False: with a cache object transformers would not look for packed sequences.
    projected = []  # the projector's output, caught on its way into the LLM, so that the forward stays transformers'
    hook = (model.model.multi_modal_projector.register_forward_hook(lambda _m, _i, out: projected.append(out))
            if position_token_ids is not None else None)
    try:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" or cpu_bf16):
            logits = model(**inputs, use_cache=False).logits
    finally:
        if hook is not None:
            hook.remove()
    labels = batch["labels"].to(device)[:, 1:]  # position t predicts token t+1
    weights = batch["weights"].to(device)[:, 1:]
    token_losses = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels.clamp(min=0),
                                                     reduction="none")
    region_sum = region_count = pointer_sum = pointer_count = torch.zeros((), device=device)
    pointing = pointer_token_id is not None and bool(batch.get("pointer_spans"))
    if "region_labels" in batch or pointing:
        visual_logits = logits[input_ids == model.config.image_token_id]  # image positions, in the batch's image order
        if "region_labels" in batch:
            region_sum, region_count = region_token_loss_terms(visual_logits, batch["region_labels"].to(device))
        if pointing:
            pointer_sum, pointer_count = pointer_loss_terms(visual_logits[:, pointer_token_id], batch["pointer_spans"])
    position_sum = position_count = torch.zeros((), device=device)
    if position_token_ids is not None and projected:
        features = torch.cat([p.reshape(-1, p.shape[-1]) for p in projected])
        embeddings = model.get_input_embeddings()(position_token_ids.to(device))
        position_sum, position_count = position_token_loss_terms(features, embeddings, batch["centres_x"].to(device))
    return LossTerms((weights * token_losses).sum(), weights.sum(), region_sum, region_count, position_sum,
                     position_count, pointer_sum, pointer_count)


def optimised_loss(terms: LossTerms, denominator: torch.Tensor, labelled: int, region_weight: float,
                   position_weight: float = 0.0, n_visual: int = 0, pointer_weight: float = 0.0,
                   pointed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One micro-batch's share of the loss to minimise: the square-averaged language loss plus, when weighted and
    some visual token is labelled, the region-token loss, plus the weighted position-token loss over the batch's
    `n_visual` visual tokens, plus the weighted pointer-token loss over its `pointed` images; each divided by
    whole-batch counts. Also returns the auxiliary parts in use ({"region_loss": …, "pointer_loss": …}), for the
    log."""
    loss, parts = terms.numerator / denominator, {}
    if region_weight and labelled:
        parts["region_loss"] = terms.region_sum / labelled
        loss = loss + region_weight * parts["region_loss"]
    if position_weight and n_visual:
        parts["position_loss"] = terms.position_sum / n_visual
        loss = loss + position_weight * parts["position_loss"]
    if pointer_weight and pointed:
        parts["pointer_loss"] = terms.pointer_sum / pointed
        loss = loss + pointer_weight * parts["pointer_loss"]
    return loss, parts


def step_batch(samples: list[dict], processor: InternVLChatProcessor, config: SFTConfig, step: int,
               image_cache: dict | None, label_cache: dict | None = None) -> tuple[int, list[dict]]:
    """Step `step`'s samples, encoded and collated into micro-batches. The order is a pure function of (seed, step),
    so a resumed run, and a run whose batches DataLoader workers build, sees the same data."""
    rng = random.Random(config.seed * 1_000_003 + step)
    order = [rng.randrange(len(samples)) for _ in range(config.batch_size)]
    encoded = [encode_sample(samples[i], processor, image_cache, label_cache) for i in order]
    pad = processor.tokenizer.pad_token_id
    micro = [collate_packed(encoded[k:k + config.micro_batch], pad, config.pack_tokens) if config.pack_tokens
             else collate(encoded[k:k + config.micro_batch], pad)
             for k in range(0, len(encoded), config.micro_batch)]
    return len(encoded), micro


class _StepBatches(torch.utils.data.Dataset):
    """Item k is step first+k's batch, for DataLoader workers (torch.utils.data does the process pool and the
    prefetching; what a step holds stays step_batch's)."""

    def __init__(self, samples: list[dict], processor: InternVLChatProcessor, config: SFTConfig, first: int):
        self.samples, self.processor, self.config, self.first = samples, processor, config, first
        # Each worker caches the region labels only (small), never the screens' tiles: every worker fills a cache of
        # its own, and the tiles of tens of thousands of screens (150 KB a tile) held once per worker would not fit.
        self.label_cache: dict = {}

    def __len__(self) -> int:
        return max(self.config.steps - self.first, 0)

    def __getitem__(self, index: int) -> tuple[int, list[dict]]:
        return step_batch(self.samples, self.processor, self.config, self.first + index, None, self.label_cache)


def step_batches(samples: list[dict], processor: InternVLChatProcessor, config: SFTConfig, first: int,
                 pin_memory: bool = False) -> Iterator[tuple[int, list[dict]]]:
    """The batches of steps first.. in order: built inline (loader_workers 0, what a 2-core CPU wants: a worker would
    take a core from the model) or by that many DataLoader worker processes ahead of the GPU, which a single process
    cannot keep fed (on an H100, about 120 samples/s inline against about 1,000 with 14 workers, README
    "Measured here")."""
    if config.loader_workers <= 0:
        cache: dict = {}  # image path -> its tiles: screens repeat across steps
        return (step_batch(samples, processor, config, step, cache) for step in range(first, config.steps))
    loader = torch.utils.data.DataLoader(_StepBatches(samples, processor, config, first), batch_size=None,
                                         num_workers=config.loader_workers, prefetch_factor=4, pin_memory=pin_memory)
    return iter(loader)


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
    started = time.perf_counter()
    position_ids = _position_token_ids(config, processor.tokenizer) if config.position_loss else None
    pointer_id = _pointer_token_id(config, processor.tokenizer) if config.pointer_loss else None
    batches = step_batches(samples, processor, config, start, pin_memory=device.type == "cuda")
    model.train()
    progress = Progress(TextColumn("[bold]sft"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                        TimeRemainingColumn())
    with progress:
        bar = progress.add_task("sft", total=config.steps, completed=start, status="")
        t_last, seen = time.perf_counter(), 0
        for step, (n_samples, micro) in zip(range(start, config.steps), batches):
            denominator = sum(m["weights"][:, 1:].sum() for m in micro)  # sum_i sqrt(N_i) over the whole batch
            labelled = sum(int((m["region_labels"] != IGNORE).sum()) for m in micro if "region_labels" in m)
            n_visual = sum(len(m["centres_x"]) for m in micro)
            pointed = sum(len(m["pointer_spans"]) for m in micro)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(step, config)
            optimizer.zero_grad(set_to_none=True)
            total, aux = 0.0, {}
            for m in micro:
                terms = micro_batch_loss_terms(model, m, device, config.cpu_bf16, position_ids, pointer_id)
                loss, parts = optimised_loss(terms, denominator, labelled, config.region_loss, config.position_loss,
                                             n_visual, config.pointer_loss, pointed)
                for name, part in parts.items():
                    aux[name] = aux.get(name, 0.0) + part.item()
                loss.backward()
                total += terms.numerator.item() / denominator.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            seen += n_samples
            record = {"step": step + 1, "loss": total, "lr": optimizer.param_groups[0]["lr"], **aux}
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                record["samples_per_s"] = seen / (time.perf_counter() - t_last)
                t_last, seen = time.perf_counter(), 0
            if evaluate is not None and config.eval_every and (step + 1) % config.eval_every == 0:
                model.eval()
                record["eval"] = evaluate(model, step + 1)
                model.train()
            history.append(record)
            aux_text = "".join(f" {name.split('_')[0]} {value:.3f}" for name, value in aux.items())
            progress.update(bar, advance=1, status=f"loss {total:.3f}{aux_text} lr {record['lr']:.1e}")
            if "samples_per_s" in record and not progress.console.is_terminal:  # logs, CI: no live bar there
                progress.console.print(f"step {step + 1}/{config.steps} loss {total:.4f}{aux_text} "
                                       f"lr {record['lr']:.2e} {record['samples_per_s']:.1f} samples/s"
                                       + (f" eval {record['eval']}" if "eval" in record else ""))
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
