"""Dynamic tiling against a reference written here from the published algorithm; the chat template."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from viragent.model.processor import (
    IMAGENET_MEAN, IMAGENET_STD, InternVLChatProcessor, chat_prompt, closest_grid, candidate_grids, dynamic_tiles,
    expand_images, normalize_tiles,
)


def reference_grid(width, height, min_num=1, max_num=12, image_size=448):
    """InternVL's published find_closest_aspect_ratio, transcribed step by step."""
    aspect_ratio = width / height
    target_ratios = set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                        if min_num <= i * j <= max_num)
    target_ratios = sorted(target_ratios, key=lambda x: x[0] * x[1])
    best_ratio_diff = float("inf")
    best_ratio = (1, 1)
    area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio


def test_grid_matches_the_reference_over_thousands_of_sizes():
    rng = random.Random(0)
    for _ in range(5000):
        w, h = rng.randint(1, 4000), rng.randint(1, 4000)
        max_num = rng.choice([1, 4, 6, 12])
        grids = candidate_grids(1, max_num)
        assert closest_grid(w, h, grids, 448) == reference_grid(w, h, 1, max_num), (w, h, max_num)


def test_ties_prefer_the_larger_grid_only_for_large_images():
    # aspect 1 ties between (1,1), (2,2), (3,3): a small image keeps 1 tile, a large one takes more
    assert closest_grid(300, 300, candidate_grids(1, 12), 448) == (1, 1)
    assert closest_grid(1000, 1000, candidate_grids(1, 12), 448) == (3, 3)
    assert closest_grid(1000, 1000, candidate_grids(1, 12), 448) == reference_grid(1000, 1000)


def test_tiles_are_row_major_crops_plus_a_thumbnail():
    image = Image.new("RGB", (896, 448))
    image.paste((255, 0, 0), (0, 0, 448, 448))
    image.paste((0, 0, 255), (448, 0, 896, 448))
    tiles = dynamic_tiles(image, 448, 1, 12)
    assert len(tiles) == 3 and all(t.size == (448, 448) for t in tiles)
    assert tiles[0].getpixel((200, 200)) == (255, 0, 0) and tiles[1].getpixel((200, 200)) == (0, 0, 255)
    assert len(dynamic_tiles(Image.new("RGB", (448, 448)), 448, 1, 12)) == 1  # one tile: no thumbnail


def test_normalisation_uses_imagenet_statistics():
    white = normalize_tiles([Image.new("RGB", (4, 4), (255, 255, 255))])
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert white.shape == (1, 3, 4, 4)
    assert torch.allclose(white[0, :, 0, 0], expected)


def test_chat_template_and_image_tokens():
    prompt = chat_prompt(expand_images("What is here?", [2], 3), system="sys")
    assert prompt == ("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\n<img>" + "<IMG_CONTEXT>" * 6 +
                      "</img>\nWhat is here?<|im_end|>\n<|im_start|>assistant\n")


def test_several_images_are_numbered():
    text = expand_images("Compare.", [1, 1], 1)
    assert text == "Image-1: <img><IMG_CONTEXT></img>\nImage-2: <img><IMG_CONTEXT></img>\nCompare."
    with pytest.raises(ValueError, match="placeholders"):
        expand_images("<image> and <image>", [1], 1)


def test_processor_batches_left_padded(tiny_tokenizer):
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=4)
    img = np.zeros((210, 160, 3), np.uint8)
    batch = proc([img, None], ["Click the button.", "Just text, a longer prompt than the other one"])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    image_id = tiny_tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")
    n_tiles = batch["pixel_values"].shape[0]
    assert (ids[0] == image_id).sum() == 64 * n_tiles and (ids[1] == image_id).sum() == 0
    assert mask[0, -1] == 1 and mask[1, -1] == 1  # left padding: every row ends with a real token
    assert batch["pixel_values"].shape[1:] == (3, 224, 224)
