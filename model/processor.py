"""InternVL's image and text preprocessing: dynamic high-resolution tiling and the `internvl2_5` chat template.

Written here (not transformers' GotOcr2 processor) because its class defaults are wrong for InternVL (384 px,
CLIP mean/std) and we need the tile grid itself to count visual tokens per image. No GUI knowledge here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMG_START, IMG_END, IMG_CONTEXT = "<img>", "</img>", "<IMG_CONTEXT>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
IMAGE_PLACEHOLDER = "<image>"


def candidate_grids(min_num: int, max_num: int) -> list[tuple[int, int]]:
    """All (columns, rows) with min_num <= columns*rows <= max_num, fewest tiles first (InternVL's order)."""
    grids = {(i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
             if min_num <= i * j <= max_num}
    return sorted(grids, key=lambda g: g[0] * g[1])


def closest_grid(width: int, height: int, grids: list[tuple[int, int]], tile: int) -> tuple[int, int]:
    """The grid whose aspect ratio is closest to the image's; on a tie the later (larger) grid wins when the
    image has more than half the pixels of that grid's tiles."""
    aspect = width / height
    best, best_diff = (1, 1), float("inf")
    for grid in grids:
        diff = abs(aspect - grid[0] / grid[1])
        if diff < best_diff:
            best, best_diff = grid, diff
        elif diff == best_diff and width * height > 0.5 * tile * tile * grid[0] * grid[1]:
            best = grid
    return best


def dynamic_tiles(image: Image.Image, tile: int = 448, min_num: int = 1, max_num: int = 12,
                  thumbnail: bool = True) -> list[Image.Image]:
    """Resize to the chosen grid (bicubic), cut row-major into tile x tile crops, add a thumbnail if > 1 tile."""
    width, height = image.size
    cols, rows = closest_grid(width, height, candidate_grids(min_num, max_num), tile)
    resized = image.resize((tile * cols, tile * rows), Image.BICUBIC)
    tiles = [resized.crop(((k % cols) * tile, (k // cols) * tile, (k % cols + 1) * tile, (k // cols + 1) * tile))
             for k in range(cols * rows)]
    if thumbnail and len(tiles) > 1:
        tiles.append(image.resize((tile, tile), Image.BICUBIC))
    return tiles


def normalize_tiles(tiles: list[Image.Image]) -> torch.Tensor:
    """(n, 3, tile, tile) float32, ImageNet mean/std."""
    array = np.stack([np.asarray(t.convert("RGB"), dtype=np.float32) / 255.0 for t in tiles])
    array = (array - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def image_tokens(num_tiles: int, tokens_per_tile: int) -> str:
    return IMG_START + IMG_CONTEXT * (tokens_per_tile * num_tiles) + IMG_END


def chat_prompt(user: str, system: str | None = None) -> str:
    """The `internvl2_5` template up to the assistant's turn (the model's answer ends with <|im_end|>)."""
    head = f"{IM_START}system\n{system}{IM_END}\n" if system else ""
    return f"{head}{IM_START}user\n{user}{IM_END}\n{IM_START}assistant\n"


def expand_images(user: str, tiles_per_image: list[int], tokens_per_tile: int) -> str:
    """Replace each <image> by its token block; with several images and no placeholders, number them
    'Image-1: <image>' as InternVL does."""
    if user.count(IMAGE_PLACEHOLDER) == 0 and tiles_per_image:
        if len(tiles_per_image) == 1:
            user = f"{IMAGE_PLACEHOLDER}\n{user}"
        else:
            user = "".join(f"Image-{i + 1}: {IMAGE_PLACEHOLDER}\n" for i in range(len(tiles_per_image))) + user
    if user.count(IMAGE_PLACEHOLDER) != len(tiles_per_image):
        raise ValueError(f"the prompt has {user.count(IMAGE_PLACEHOLDER)} <image> placeholders for "
                         f"{len(tiles_per_image)} images; use one per image or none")
    for n in tiles_per_image:
        user = user.replace(IMAGE_PLACEHOLDER, image_tokens(n, tokens_per_tile), 1)
    return user


@dataclass
class InternVLChatProcessor:
    """Images + user texts -> model inputs (left-padded input_ids, attention_mask, pixel_values)."""

    tokenizer: object
    tile: int = 448
    tokens_per_tile: int = 256
    min_tiles: int = 1
    max_tiles: int = 12
    thumbnail: bool = True
    system: str | None = None

    def tiles(self, image) -> list[Image.Image]:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        return dynamic_tiles(image.convert("RGB"), self.tile, self.min_tiles, self.max_tiles, self.thumbnail)

    def tile_grid(self, size: tuple[int, int]) -> tuple[int, int]:
        """(columns, rows) of the grid `tiles` cuts an image of this (width, height) into."""
        return closest_grid(*size, candidate_grids(self.min_tiles, self.max_tiles), self.tile)

    def prompt(self, user: str, tiles_per_image: list[int], system: str | None = None) -> str:
        return chat_prompt(expand_images(user, tiles_per_image, self.tokens_per_tile), system or self.system)

    def __call__(self, images: list, users: list[str], system: str | None = None) -> dict:
        """One image (or a list of images, or None) per user text."""
        texts, pixel_batches = [], []
        for image, user in zip(images, users, strict=True):
            group = [] if image is None else (image if isinstance(image, list) else [image])
            tiled = [self.tiles(img) for img in group]
            texts.append(self.prompt(user, [len(t) for t in tiled], system))
            pixel_batches.extend(normalize_tiles(t) for t in tiled)
        encoded = self.encode_left_padded(texts)
        if pixel_batches:
            encoded["pixel_values"] = torch.cat(pixel_batches)
        encoded["prompts"] = texts
        return encoded

    def encode_left_padded(self, texts: list[str]) -> dict:
        ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        return {"input_ids": input_ids, "attention_mask": mask}
