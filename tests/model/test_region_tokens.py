"""Region-token loss: which part of the image each visual token stands for, its labels and loss by hand, and
the trainer using it."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from viragent.model.loading import build_random
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.region_tokens import (IGNORE, region_token_labels, region_token_loss_terms,
                                                visual_token_boxes)
from viragent.model.train.sft import SFTConfig, collate, collate_packed, encode_sample, micro_batch_loss_terms, train_sft


def test_token_boxes_follow_tiles_then_thumbnail():
    one = visual_token_boxes((1, 1), thumbnail=True, side=2)  # one tile: no thumbnail
    assert one == [(0, 0, 0.5, 0.5), (0.5, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1)]
    two = visual_token_boxes((2, 1), thumbnail=True, side=2)  # two tiles side by side, then the thumbnail
    assert len(two) == 12
    assert two[1] == (0.25, 0, 0.5, 0.5) and two[4] == (0.5, 0, 0.75, 0.5) and two[8:] == one


def test_token_order_is_transformers_pixel_shuffle_order(tiny_tokenizer):
    """Feed patch indices through the model's own pixel shuffle: token k holds exactly the patches inside box k."""
    model = build_random("tiny", tiny_tokenizer)
    side = 16  # 224 / 14 patches a side -> 8 x 8 tokens
    index = torch.arange(side * side, dtype=torch.float32).reshape(1, side, side, 1)
    tokens = model.model.pixel_shuffle(index, scale_factor=0.5).reshape(-1, 4)  # (64 tokens, 4 patches)
    for k, (x0, y0, x1, y1) in enumerate(visual_token_boxes((1, 1), False, side=8)):
        rows, cols = tokens[k] // side, tokens[k] % side
        assert ((rows + 0.5) / side > y0).all() and ((rows + 0.5) / side < y1).all()
        assert ((cols + 0.5) / side > x0).all() and ((cols + 0.5) / side < x1).all()


def test_labels_by_hand():
    boxes = visual_token_boxes((1, 1), False, side=2)
    regions = [{"text": "ok", "box": [0, 0, 500, 500]},  # all of token 0
               {"text": "go", "box": [500, 500, 1000, 540]},  # 8 % of token 3: under min_cover
               {"text": "", "box": [0, 500, 500, 1000]}]  # no text: nothing to name
    token_of = {"ok": 7, "go": 9}.get
    assert region_token_labels(regions, boxes, token_of, blank_id=0).tolist() == [7, 0, 0, 0]
    assert region_token_labels(regions, boxes, token_of, blank_id=0, min_cover=0.05).tolist() == [7, 0, 0, 9]
    # Two regions on one token: the one covering more of it names it.
    both = [{"text": "ok", "box": [0, 0, 200, 500]}, {"text": "go", "box": [200, 0, 500, 500]}]
    assert region_token_labels(both, boxes, token_of, blank_id=0)[0].item() == 9


def test_loss_terms_by_hand():
    # Uniform logits over 4 tokens: each labelled token costs ln 4; the unlabelled one costs nothing.
    logits = torch.zeros(3, 4)
    logits[2, 1] = 10.0  # confident and right: almost 0
    labels = torch.tensor([1, IGNORE, 1])
    total, count = region_token_loss_terms(logits, labels)
    assert count.item() == 2
    assert total.item() == pytest.approx(math.log(4) + math.log(1 + 3 * math.exp(-10)), rel=1e-5)


@pytest.fixture
def screens(tmp_path):
    """Two screens with one black word each, and regions saying where the word is."""
    out = []
    for i, (text, box) in enumerate([("ok", (20, 20, 90, 60)), ("no", (130, 150, 200, 200))]):
        image = np.full((224, 224, 3), 255, np.uint8)
        image[box[1]:box[3], box[0]:box[2]] = 0
        path = tmp_path / f"s{i}.png"
        Image.fromarray(image).save(path)
        out.append({"image": str(path), "regions": [{"text": text, "box": [round(v * 1000 / 224) for v in box]}],
                    "conversations": [{"value": "<image>\nTask: read it\nNext action:"},
                                      {"value": f'done(answer="{text}")'}]})
    return out


def test_encoded_samples_carry_a_label_per_visual_token(screens, tiny_tokenizer):
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    encoded = encode_sample(screens[0], proc)
    labels = encoded["region_labels"].reshape(8, 8)
    ok = tiny_tokenizer("ok", add_special_tokens=False)["input_ids"][0]
    blank = tiny_tokenizer.pad_token_id
    # The word covers 20..90 px across and down, in 28-px cells: all of (1, 1), 21 % of (1, 3), 8 % of (0, 0).
    assert labels[1, 1].item() == labels[1, 3].item() == ok and labels[0, 0].item() == blank
    assert labels[7, 7].item() == blank  # blank paper names nothing
    plain = dict(screens[1], regions=None)
    batch = collate([encoded, encode_sample(plain, proc)], tiny_tokenizer.pad_token_id)
    assert batch["region_labels"].shape == (128,) and (batch["region_labels"][64:] == IGNORE).all()
    packed = collate_packed([encoded, encode_sample(plain, proc)], tiny_tokenizer.pad_token_id, row_tokens=10_000)
    assert torch.equal(packed["region_labels"], batch["region_labels"])
    # The loss reads the logits at the image positions, in the batch's image order.
    model = build_random("tiny", tiny_tokenizer)
    terms = micro_batch_loss_terms(model, batch, torch.device("cpu"))
    assert terms.region_count.item() == 64
    packed_terms = micro_batch_loss_terms(model, packed, torch.device("cpu"))
    assert packed_terms.region_sum.item() == pytest.approx(terms.region_sum.item(), rel=1e-4)



def test_region_labels_are_cached_with_the_screen(screens, tiny_tokenizer):
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    cache: dict = {}
    first = encode_sample(screens[0], proc, cache)["region_labels"]
    again = encode_sample(screens[0], proc, cache)["region_labels"]
    assert again is first  # served from the cache
    # another sample's regions for the same screen get labels of their own
    moved = dict(screens[0], regions=[{"text": "no", "box": screens[1]["regions"][0]["box"]}])
    assert torch.equal(encode_sample(moved, proc, cache)["region_labels"], encode_sample(moved, proc)["region_labels"])
    assert not torch.equal(encode_sample(moved, proc, cache)["region_labels"], first)

def test_training_with_the_region_loss_learns_to_name_what_is_drawn(screens, tiny_tokenizer, tmp_path):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    config = SFTConfig(out=str(tmp_path / "run"), steps=40, batch_size=2, lr=3e-3, warmup_steps=3, region_loss=1.0,
                       log_every=5)
    history = train_sft(model, proc, screens, config)["history"]
    assert history[-1]["region_loss"] < 0.3 * history[0]["region_loss"]
    # The trained visual tokens name the word where it is drawn and nothing elsewhere.
    encoded = encode_sample(screens[1], proc)
    batch = collate([encoded], tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       pixel_values=batch["pixel_values"]).logits
    named = logits[batch["input_ids"] == model.config.image_token_id].argmax(-1)
    blank = tiny_tokenizer.pad_token_id
    labels = encoded["region_labels"]
    mostly = region_token_labels(screens[1]["regions"], visual_token_boxes((1, 1), False, 8),
                                 lambda text: labels[labels != blank][0].item(), blank, min_cover=0.5) != blank
    assert mostly.sum() >= 4 and (named[mostly] == labels[mostly]).all()  # cells mostly under the word
    assert (named[labels == blank] == blank).float().mean() >= 0.9  # and blank paper
