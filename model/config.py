"""InternVL3.5 presets as transformers `InternVLConfig`s: `tiny` (trainable on 2 CPU cores) and the published sizes.

The published sizes pair InternViT-300M (InternViT-6B for 38B) with the public Qwen3 configs. Counts are
checked against the model cards by `viragent model params` / the tests, on the `meta` device.
"""

from __future__ import annotations

from transformers import InternVLConfig

# Token ids appended after Qwen3's vocabulary (facts sheet): <img> </img> <IMG_CONTEXT>.
IMG_START_ID, IMG_END_ID, IMG_CONTEXT_ID = 151669, 151670, 151671
QWEN3_VOCAB = 151936

INTERNVIT_300M = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                      attention_bias=True, use_qk_norm=False, norm_type="layer_norm", layer_norm_eps=1e-6,
                      layer_scale_init_value=0.1, image_size=448, patch_size=14, use_mean_pooling=True)
INTERNVIT_6B = dict(hidden_size=3200, num_hidden_layers=45, num_attention_heads=25, intermediate_size=12800,
                    attention_bias=False, use_qk_norm=True, norm_type="rms_norm", layer_norm_eps=1e-6,
                    layer_scale_init_value=0.1, image_size=448, patch_size=14, use_mean_pooling=True)


def _qwen3(hidden: int, layers: int, heads: int, mlp: int, kv_heads: int = 8) -> dict:
    return dict(model_type="qwen3", vocab_size=QWEN3_VOCAB, hidden_size=hidden, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=128, intermediate_size=mlp,
                hidden_act="silu", rms_norm_eps=1e-6, max_position_embeddings=40960,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0}, tie_word_embeddings=False)


# name -> (vision config, text config, model card counts: ViT, MLP projector, LLM)
PUBLISHED: dict[str, tuple[dict, dict, tuple[float, float, float]]] = {
    "1B": (INTERNVIT_300M, _qwen3(1024, 28, 16, 3072), (304.01e6, 5.25e6, 751.63e6)),
    "2B": (INTERNVIT_300M, _qwen3(2048, 28, 16, 6144), (304.01e6, 12.60e6, 2.03e9)),
    "4B": (INTERNVIT_300M, _qwen3(2560, 36, 32, 9728), (304.01e6, 17.05e6, 4.41e9)),
    "8B": (INTERNVIT_300M, _qwen3(4096, 36, 32, 12288), (304.01e6, 33.57e6, 8.19e9)),
    "14B": (INTERNVIT_300M, _qwen3(5120, 40, 40, 17408), (304.01e6, 47.20e6, 14.77e9)),
    "38B": (INTERNVIT_6B, _qwen3(5120, 64, 64, 25600), (5.54e9, 91.79e6, 32.76e9)),
}

# tiny: the same architecture at a size two CPU cores can train. A 224-px tile with patch 14 gives 16x16
# patches -> pixel shuffle 0.5 -> 64 visual tokens per tile. Vocabulary: our own byte-level BPE (model/tokenizer.py).
TINY_VOCAB = 2048
TINY_IMG_CONTEXT_ID = 5  # the tiny tokenizer puts its special tokens first (model/tokenizer.py)
TINY_TILE = 224
TINY_VISION = dict(hidden_size=96, num_hidden_layers=4, num_attention_heads=4, intermediate_size=384,
                   attention_bias=True, use_qk_norm=False, norm_type="layer_norm", layer_norm_eps=1e-6,
                   layer_scale_init_value=0.1, image_size=TINY_TILE, patch_size=14, use_mean_pooling=True)
TINY_TEXT = dict(model_type="qwen3", vocab_size=TINY_VOCAB, hidden_size=256, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=4, head_dim=32, intermediate_size=768,
                 hidden_act="silu", rms_norm_eps=1e-6, max_position_embeddings=4096,
                 rope_parameters={"rope_type": "default", "rope_theta": 10_000.0}, tie_word_embeddings=True)
PRESETS = ("tiny", *PUBLISHED)


def tokens_per_tile(config: InternVLConfig) -> int:
    """Visual tokens one tile becomes: (tile / patch)^2 patches, times downsample_ratio^2 after pixel shuffle."""
    patches = (config.vision_config.image_size[0] // config.vision_config.patch_size[0]) ** 2
    return int(patches * config.downsample_ratio**2)


def preset_config(name: str, image_token_id: int | None = None) -> InternVLConfig:
    """The InternVLConfig of a preset; `image_token_id` defaults to <IMG_CONTEXT> of the preset's tokenizer."""
    if name == "tiny":
        vision, text = TINY_VISION, TINY_TEXT
        token_id = image_token_id if image_token_id is not None else TINY_IMG_CONTEXT_ID
        tie = True
    elif name in PUBLISHED:
        vision, text, _ = PUBLISHED[name]
        token_id = image_token_id if image_token_id is not None else IMG_CONTEXT_ID
        tie = False
    else:
        raise KeyError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    config = InternVLConfig(vision_config=dict(vision), text_config=dict(text), image_token_id=token_id,
                            downsample_ratio=0.5, projector_hidden_act="gelu", vision_feature_layer=-1,
                            vision_feature_select_strategy="default", tie_word_embeddings=tie)
    config.image_seq_length = tokens_per_tile(config)
    return config


def parameter_counts(model) -> dict[str, int]:
    """Parameters of the ViT, the MLP projector and the LLM (lm_head counted with the LLM, once if tied)."""
    seen: set[int] = set()

    def count(module) -> int:
        total = 0
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
        return total

    vit = count(model.model.vision_tower)
    mlp = count(model.model.multi_modal_projector)
    llm = count(model.model.language_model) + count(model.lm_head)
    return {"vit": vit, "mlp": mlp, "llm": llm}


def parameter_counts_of(preset: str) -> dict[str, int]:
    """`parameter_counts` of a preset built on the meta device (no memory, no init)."""
    import torch
    from transformers import InternVLForConditionalGeneration

    with torch.device("meta"):
        model = InternVLForConditionalGeneration(preset_config(preset))
    return parameter_counts(model)
