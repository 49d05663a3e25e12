"""Train a pointer head (model/pointer_head.py) on a frozen model's hidden states.

The model is run once over the samples that have a point (clicks; 0-1000 of the image), without gradients, and
its last hidden states at the image's visual tokens and at the prompt's last position are kept (float16: 64
tokens x 256 floats a sample for the tiny model). The head is then trained on those alone with the pointer loss
(model/train/pointer_tokens.py's terms: -log of the softmax mass on the tokens under the point), which takes a minute
where training through the model would take as long as a fine-tune, and leaves every answer as it was.
Only one-image samples are used: the head points into one image.
"""

from __future__ import annotations

import math
import random
from typing import Callable

import torch

from ..pointer_head import PointerHead
from ..processor import InternVLChatProcessor
from .pointer_tokens import pointer_loss_terms
from .sft import IGNORE, collate, encode_sample


@torch.no_grad()
def head_features(model, processor: InternVLChatProcessor, samples: list[dict], batch_size: int = 32,
                  cpu_bf16: bool = False, advance: Callable[[int], None] | None = None) -> dict:
    """{"visual": (N, tokens, hidden) float16, "query": (N, hidden) float16, "targets": [[token, …], …]} for the
    samples with a point and one image (all of an image's tokens; every sample must have the same count)."""
    model.eval()
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    visual, query, targets, cache = [], [], [], {}
    for start in range(0, len(samples), batch_size):
        encoded = [encode_sample(s, processor, cache) for s in samples[start:start + batch_size]]
        encoded = [e for e in encoded if e.get("pointer")]
        if encoded:
            batch = collate(encoded, processor.tokenizer.pad_token_id)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                enabled=device.type == "cuda" or cpu_bf16):
                hidden = model.model(input_ids=batch["input_ids"].to(device),
                                     pixel_values=batch["pixel_values"].to(device, dtype),
                                     attention_mask=batch["attention_mask"].to(device), use_cache=False
                                     ).last_hidden_state.float()
            image = batch["input_ids"].to(device) == model.config.image_token_id
            for row, e in enumerate(encoded):
                first_answer = int((torch.tensor(e["labels"]) != IGNORE).nonzero()[0])
                visual.append(hidden[row][image[row]].half().cpu())
                query.append(hidden[row, first_answer - 1].half().cpu())  # the position that writes the answer
                targets.append(e["pointer"])
        if len(cache) > 2000:  # screens rarely repeat within one pass; keep memory flat
            cache.clear()
        if advance is not None:
            advance(min(batch_size, len(samples) - start))
    if not visual:
        raise ValueError("no sample has a point: the pointer head trains on clicks (one image, a click answer)")
    if len({v.shape[0] for v in visual}) > 1:
        raise ValueError("samples have different numbers of visual tokens; train the head on a checkpoint that sees "
                         "every screen as the same number of tiles (max_tiles=1, or one trained with `train sft "
                         "--tiles N`) or on screens of one size")
    return {"visual": torch.stack(visual), "query": torch.stack(query), "targets": targets}


def train_pointer_head(features: dict, tokens_per_tile: int, steps: int = 1500, batch_size: int = 128,
                       lr: float = 1e-3, seed: int = 0, advance: Callable[[int, float], None] | None = None
                       ) -> tuple[PointerHead, list[float]]:
    """AdamW with a cosine schedule on batches drawn with a seeded generator: the same features give the same head."""
    torch.manual_seed(seed)
    visual, query = features["visual"], features["query"]
    n, tokens, hidden = visual.shape
    head = PointerHead(hidden, tokens_per_tile)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.05)
    draw, losses = random.Random(seed), []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        rows = [draw.randrange(n) for _ in range(batch_size)]
        logits = head(visual[rows].float(), query[rows].float())
        # The pointer-token loss's own terms (model.train.pointer_tokens), each image one span of the flat scores.
        total, count = pointer_loss_terms(logits.flatten(), [(i * tokens, tokens, features["targets"][r])
                                                             for i, r in enumerate(rows)])
        loss = total / count
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if advance is not None:
            advance(step + 1, loss.item())
    return head.eval(), losses


def pointer_hits(head: PointerHead, features: dict) -> list[bool]:
    """Per sample: does the head's best token hold the point?"""
    with torch.no_grad():
        best = head(features["visual"].float(), features["query"].float()).argmax(1).tolist()
    return [b in t for b, t in zip(best, features["targets"])]
