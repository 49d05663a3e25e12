"""Region-token loss: every visual token is asked to name the text drawn under it.

Why it exists: trained from random weights, InternVL's language loss alone washes the image out. A click
target is one or two supervised tokens per screen, the LLM learns the answer's format and the targets' usual
places long before it learns to look, and the gradient meanwhile pushes the visual tokens towards a constant
(the tiny preset's `content_ratio` falls from 0.18 to 0.005 in 800 steps). This objective gives the image path
dense supervision of its own: the LLM's logits at the image positions, which the language loss ignores, must
predict the first token of the text of the region each visual token covers, or the blank token where nothing is
written. It changes no module and no checkpoint: the same lm_head, one more loss term while training.

Regions come with a sample in InternVL's grounding convention, {"text": str, "box": [x0, y0, x1, y1]} with
coordinates 0-1000 of the image. Like all of model/, this knows nothing about GUIs. No library has this loss.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch

IGNORE = -100
Box = tuple[float, float, float, float]


def visual_token_boxes(grid: tuple[int, int], thumbnail: bool, side: int) -> list[Box]:
    """The part of the image (0-1 coordinates) each visual token of one image stands for, in the model's order.

    Tiles come row-major over the (columns, rows) grid, then the thumbnail when there is more than one tile;
    each tile's side x side tokens are row-major too (transformers' pixel shuffle keeps that order).
    """
    cols, rows = grid
    boxes: list[Box] = []
    for k in range(cols * rows):
        tx, ty = k % cols, k // cols
        boxes += [((tx + c / side) / cols, (ty + r / side) / rows, (tx + (c + 1) / side) / cols,
                   (ty + (r + 1) / side) / rows) for r in range(side) for c in range(side)]
    if thumbnail and cols * rows > 1:
        boxes += [(c / side, r / side, (c + 1) / side, (r + 1) / side) for r in range(side) for c in range(side)]
    return boxes


@functools.lru_cache(maxsize=64)
def token_boxes(grid: tuple[int, int], thumbnail: bool, tokens_per_tile: int) -> tuple[Box, ...]:
    """visual_token_boxes for a processor's settings (square tiles of `tokens_per_tile` tokens). Cached: training
    asks for it for every sample of every step, and only a few tile grids recur."""
    return tuple(visual_token_boxes(tuple(grid), thumbnail, int(round(tokens_per_tile ** 0.5))))


def region_token_labels(regions: list[dict], token_boxes: list[Box], token_of: Callable[[str], int], blank_id: int,
                        min_cover: float = 0.1) -> torch.Tensor:
    """Per visual token: token_of(text) of the region that covers most of it (at least `min_cover` of the
    token's area), else `blank_id`. Region boxes are 0-1000, token boxes 0-1."""
    boxes = [([v / 1000 for v in region["box"]], region["text"]) for region in regions if region["text"]]
    labels = []
    for x0, y0, x1, y1 in token_boxes:
        area = (x1 - x0) * (y1 - y0)
        best, best_cover = None, min_cover
        for (bx0, by0, bx1, by1), text in boxes:
            cover = max(0.0, min(x1, bx1) - max(x0, bx0)) * max(0.0, min(y1, by1) - max(y0, by0)) / area
            if cover > best_cover:
                best, best_cover = text, cover
        labels.append(blank_id if best is None else token_of(best))
    return torch.tensor(labels, dtype=torch.long)


def region_token_loss_terms(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of cross-entropy over labelled visual tokens, their count); logits (N, vocab), labels (N,) with
    IGNORE where a token has no label. Kept apart so gradient accumulation divides by the whole batch's count."""
    losses = torch.nn.functional.cross_entropy(logits.float(), labels.clamp(min=0), reduction="none")
    labelled = (labels != IGNORE).float()
    return (losses * labelled).sum(), labelled.sum()
