"""Position-token loss: token centres, the loss by hand, the trainer's checks of its texts, and training with it
teaching the projector where across the image each visual token is."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from viragent.model.loading import build_random
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.position_tokens import position_token_loss_terms, token_centres_x
from viragent.model.train.region_tokens import visual_token_boxes
from viragent.model.train.sft import SFTConfig, collate, encode_sample, micro_batch_loss_terms, train_sft
from viragent.tools import InternVLCodec

# The action grid's 32 x cells as the policy writes them (16, 47, ... 984), as `train sft --position-bins 32` names them.
TEXTS = tuple(str(InternVLCodec(32).snap((cell + 0.5) / 32)) for cell in range(32))


def test_centres_follow_the_token_boxes():
    assert token_centres_x(visual_token_boxes((1, 1), False, side=2)).tolist() == [0.25, 0.75, 0.25, 0.75]
    two = token_centres_x(visual_token_boxes((2, 1), True, side=2))  # two tiles side by side, then the thumbnail
    assert two.tolist() == [0.125, 0.375, 0.125, 0.375, 0.625, 0.875, 0.625, 0.875, 0.25, 0.75, 0.25, 0.75]


def test_loss_terms_by_hand():
    embeddings = torch.eye(4)  # 4 cells across
    features = torch.zeros(3, 4)
    features[0, 0] = 10.0  # confident and right (centre 0.1 is in cell 0): almost 0
    features[2, 1] = 10.0  # confident and wrong (centre 0.9 is in cell 3)
    total, count = position_token_loss_terms(features, embeddings, torch.tensor([0.1, 0.6, 0.9]))
    assert count.item() == 3
    right = math.log(1 + 3 * math.exp(-10))
    assert total.item() == pytest.approx(right + math.log(4) + (10 + math.log(1 + 3 * math.exp(-10))), rel=1e-5)


def test_the_trainer_checks_the_position_texts(tiny_tokenizer, tmp_path):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    with pytest.raises(ValueError, match="position_texts"):
        train_sft(model, proc, [], SFTConfig(out=str(tmp_path / "a"), position_loss=1.0))
    with pytest.raises(ValueError, match="not single tokens"):
        train_sft(model, proc, [], SFTConfig(out=str(tmp_path / "b"), position_loss=1.0,
                                             position_texts=("16", "a phrase of many words")))


@pytest.fixture
def pictures(tmp_path):
    """Screens of coloured noise: nothing in them says where across the image a token is."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(24):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(path)
        out.append({"image": str(path), "conversations": [{"value": "<image>\nTask: wait\nNext action:"},
                                                          {"value": "wait()"}]})
    return out


def test_training_with_the_position_loss_teaches_each_token_its_column(pictures, tiny_tokenizer, tmp_path):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    ids = torch.tensor([tiny_tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in TEXTS])

    def columns_named(picture) -> torch.Tensor:
        """Which of the 8 token columns each visual token's projected embedding names, read as the loss reads it."""
        batch = collate([encode_sample(picture, proc)], tiny_tokenizer.pad_token_id)
        with torch.no_grad():
            features = model.model.get_image_features(pixel_values=batch["pixel_values"]).pooler_output[0]
            cells = (features @ model.get_input_embeddings()(ids).T).argmax(-1)
        return cells // 4  # 32 cells, 4 to a token column

    truth = torch.arange(64) % 8  # row-major tokens: the column is the index modulo 8
    before = (columns_named(pictures[-1]) == truth).float().mean().item()
    config = SFTConfig(out=str(tmp_path / "run"), steps=40, batch_size=4, lr=3e-3, warmup_steps=3, position_loss=1.0,
                       position_texts=TEXTS, log_every=5)
    history = train_sft(model, proc, pictures[:-1], config)["history"]
    assert history[-1]["position_loss"] < 0.2 * history[0]["position_loss"]
    after = (columns_named(pictures[-1]) == truth).float().mean().item()  # a picture it never trained on
    assert before < 0.3 and after >= 0.9, (before, after)


def test_loss_terms_cover_every_visual_token_of_the_batch(pictures, tiny_tokenizer):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    batch = collate([encode_sample(p, proc) for p in pictures[:3]], tiny_tokenizer.pad_token_id)
    ids = torch.tensor([tiny_tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in TEXTS])
    terms = micro_batch_loss_terms(model, batch, torch.device("cpu"), position_token_ids=ids)
    assert terms.position_count.item() == 3 * 64 and terms.position_sum.item() > 0
    assert micro_batch_loss_terms(model, batch, torch.device("cpu")).position_count.item() == 0  # not asked for
