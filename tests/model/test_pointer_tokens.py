"""Pointer-token loss: which tokens hold a point, and the loss by hand. Training with it, and the policy that
clicks where it points: tests/agent/test_pointing.py."""

import math

import pytest
import torch

from viragent.model.train.pointer_tokens import pointer_loss_terms, pointer_targets
from viragent.model.train.region_tokens import visual_token_boxes


def test_the_tokens_that_hold_a_point():
    assert pointer_targets((700, 200), visual_token_boxes((1, 1), False, side=2)) == [1]
    assert pointer_targets((1000, 1000), visual_token_boxes((1, 1), False, side=2)) == [3]  # the far edge counts
    # Two tiles side by side and the thumbnail: the point is in the second tile's token 0 and the thumbnail's 1.
    assert pointer_targets((600, 100), visual_token_boxes((2, 1), True, side=2)) == [4, 9]


def test_loss_terms_by_hand():
    logits = torch.tensor([0.0, math.log(3), 0.0, 0.0,  # image 1: its target holds 3/6 of the softmax
                           5.0, 5.0, 0.0, 0.0])  # image 2: two targets (a tile's token and the thumbnail's)
    total, count = pointer_loss_terms(logits, [(0, 4, [1]), (4, 4, [0, 1])])
    assert count.item() == 2
    image_2 = math.log(2 * math.exp(5) + 2) - math.log(2 * math.exp(5))
    assert total.item() == pytest.approx(math.log(2) + image_2, rel=1e-5)
