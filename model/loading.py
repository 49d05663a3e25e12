"""Loading InternVL3.5 from a local directory: the transformers "-HF" layout, the original OpenGVLab layout
(converted on load), or our own checkpoints (HF layout + `viragent.json`). Never from a hub.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, InternVLConfig, InternVLForConditionalGeneration
from transformers.initialization import no_init_weights

from .config import IMG_CONTEXT_ID, PRESETS, preset_config
from .pointer_head import HEAD_FILE


class CheckpointNotFound(FileNotFoundError):
    """A model name that is neither a preset nor a local directory (hub ids are never fetched)."""


class UnknownCheckpointLayout(ValueError):
    """A directory whose config.json is neither InternVL-HF (`internvl`) nor original (`internvl_chat`)."""


# Checkpoints trained by this project and installed with it (package data): name -> directory.
SHIPPED_DIR = Path(__file__).parent / "weights"


def shipped_checkpoints() -> dict[str, Path]:
    """Trained checkpoints that come with the package, e.g. {'viragent-tiny': .../model/weights/viragent-tiny}."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {d.name: d for d in sorted(SHIPPED_DIR.iterdir()) if (d / "config.json").exists()}


def resolve_checkpoint(spec: str | Path) -> Path:
    """A shipped checkpoint's name or a directory -> the directory (CheckpointNotFound names the choices)."""
    shipped = shipped_checkpoints()
    if str(spec) in shipped:
        return shipped[str(spec)]
    directory = Path(spec)
    if not directory.is_dir():
        raise _not_found(str(spec))
    return directory


def _not_found(name: str) -> CheckpointNotFound:
    shipped = ", ".join(shipped_checkpoints()) or "none installed"
    return CheckpointNotFound(
        f"{name!r} is not a preset ({', '.join(PRESETS)}), a shipped checkpoint ({shipped}) nor a local directory. "
        "viragent never downloads "
        f"weights: on a machine with network run `huggingface-cli download {name} --local-dir DIR` (the "
        "'-HF' repos or the original OpenGVLab ones both work), copy DIR here and pass its path.")


# ---- original OpenGVLab layout -> transformers layout ---------------------------------------------------
_VISION_RENAMES = [
    ("attn.proj.", "attention.projection_layer."), ("attn.q_norm.", "attention.q_norm."),
    ("attn.k_norm.", "attention.k_norm."), ("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
    ("ls1", "lambda_1"), ("ls2", "lambda_2"),
]


def convert_original_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename (and split the fused qkv of) an original-layout state dict into transformers' names."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key.startswith("vision_model.embeddings."):
            rest = key[len("vision_model.embeddings."):]
            rest = {"class_embedding": "cls_token", "position_embedding": "position_embeddings"}.get(rest, rest)
            rest = rest.replace("patch_embedding.", "patch_embeddings.projection.")
            out[f"model.vision_tower.embeddings.{rest}"] = tensor
        elif key.startswith("vision_model.encoder.layers."):
            rest = key[len("vision_model.encoder.layers."):]
            prefix = "model.vision_tower.encoder.layer."
            if ".attn.qkv." in rest:
                q, k, v = tensor.chunk(3, dim=0)
                for name, part in zip("qkv", (q, k, v)):
                    out[prefix + rest.replace("attn.qkv.", f"attention.{name}_proj.")] = part.clone()
                continue
            for old, new in _VISION_RENAMES:
                rest = rest.replace(old, new)
            out[prefix + rest] = tensor
        elif key.startswith("mlp1."):
            index, _, param = key[len("mlp1."):].partition(".")
            name = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}[index]
            out[f"model.multi_modal_projector.{name}.{param}"] = tensor
        elif key.startswith("language_model.model."):
            out["model.language_model." + key[len("language_model.model."):]] = tensor
        elif key.startswith("language_model.lm_head."):
            out["lm_head." + key[len("language_model.lm_head."):]] = tensor
        elif key.startswith(("mlp2.", "pooling_before_gating.", "gating.")):
            continue  # Flash (ViR) weights: loaded by the ViR module, not by the base model
        else:
            raise UnknownCheckpointLayout(f"unexpected key {key!r} in an original-layout InternVL checkpoint")
    return out


def convert_original_config(cfg: dict, image_token_id: int) -> InternVLConfig:
    """An `internvl_chat` config.json -> InternVLConfig."""
    v = cfg["vision_config"]
    image_size = cfg.get("force_image_size") or v.get("image_size", 448)
    vision = dict(hidden_size=v["hidden_size"], num_hidden_layers=v["num_hidden_layers"],
                  num_attention_heads=v["num_attention_heads"], intermediate_size=v["intermediate_size"],
                  attention_bias=v.get("qkv_bias", True), use_qk_norm=v.get("qk_normalization", False),
                  norm_type=v.get("norm_type", "layer_norm"), layer_norm_eps=v.get("layer_norm_eps", 1e-6),
                  layer_scale_init_value=0.1, image_size=image_size,  # ls1/ls2 come from the weights
                  patch_size=v.get("patch_size", 14), use_mean_pooling=True, hidden_act=v.get("hidden_act", "gelu"))
    text = {k: val for k, val in cfg["llm_config"].items() if k not in ("architectures", "auto_map", "_name_or_path")}
    text.setdefault("model_type", "qwen3")
    config = InternVLConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                            downsample_ratio=cfg.get("downsample_ratio", 0.5), projector_hidden_act="gelu",
                            vision_feature_layer=cfg.get("select_layer", -1),
                            tie_word_embeddings=text.get("tie_word_embeddings", False))
    patches = (image_size // vision["patch_size"]) ** 2
    config.image_seq_length = int(patches * config.downsample_ratio**2)
    return config


def _read_state_dict(directory: Path) -> dict[str, torch.Tensor]:
    # The pointer head (model/pointer_head.py) sits beside the weights; it is not part of the model.
    files = sorted(f for f in directory.glob("*.safetensors") if f.name != HEAD_FILE)
    if files:
        state = {}
        for f in files:
            state.update(load_file(f))
        return state
    bins = sorted(directory.glob("pytorch_model*.bin"))
    if not bins:
        raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin weights in {directory}")
    state = {}
    for f in bins:
        state.update(torch.load(f, map_location="cpu", weights_only=True))
    return state


def checkpoint_layout(directory: Path) -> str:
    config_file = directory / "config.json"
    if not config_file.exists():
        raise UnknownCheckpointLayout(f"{directory} has no config.json; expected an InternVL checkpoint directory")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type == "internvl":
        return "viragent" if (directory / "viragent.json").exists() else "hf"
    if model_type == "internvl_chat":
        return "original"
    raise UnknownCheckpointLayout(f"{config_file} has model_type={model_type!r}; viragent loads 'internvl' "
                                  "(transformers -HF layout) and 'internvl_chat' (original OpenGVLab layout)")


def default_attention(device: str | torch.device) -> str:
    """The attention kernel a model gets on `device`: "eager" on a CPU, "sdpa" elsewhere.

    On a CPU, PyTorch's SDPA runs its flash kernel, whose backward pass was a third of a tiny-model training
    step here; the plain matmul-softmax of transformers' eager attention (softmax in fp32) gave 1.44x the
    samples/s with bf16 autocast (`viragent bench train` measures both). On a GPU, SDPA's fused kernels win.
    """
    return "eager" if torch.device(device).type == "cpu" else "sdpa"


def load_pretrained(path: str | Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                    attention: str | None = None):
    """(model, tokenizer, layout) from a shipped checkpoint's name or a local directory of any of the three layouts.

    attention: transformers' attn_implementation; None picks `default_attention(device)`."""
    directory = resolve_checkpoint(path)
    layout = checkpoint_layout(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if layout in ("hf", "viragent"):
        model = InternVLForConditionalGeneration.from_pretrained(directory, dtype=dtype)
    else:
        token_id = tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")
        config = convert_original_config(json.loads((directory / "config.json").read_text()),
                                         token_id if token_id is not None else IMG_CONTEXT_ID)
        # Built on the CPU without random init (the weights come next); not on `meta`, which would leave the
        # rotary buffers (not in any checkpoint) empty.
        with no_init_weights():
            model = InternVLForConditionalGeneration(config)
        state = convert_original_state_dict(_read_state_dict(directory))
        if config.tie_word_embeddings and "lm_head.weight" not in state:
            state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"]
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise UnknownCheckpointLayout(f"converted checkpoint does not fit: missing {missing[:5]}, "
                                          f"unexpected {unexpected[:5]}")
        model.tie_weights()
        model = model.to(dtype)
    model.set_attn_implementation(attention or default_attention(device))
    return model.to(device).eval(), tokenizer, layout


def sincos_position_embedding(grid: int, dim: int) -> torch.Tensor:
    """(1 + grid*grid, dim) fixed 2-D sine-cosine positions (MAE's), a zero row first for the CLS token."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64),
                                indexing="ij")
    parts = []
    for coord in (rows.reshape(-1), cols.reshape(-1)):
        angles = coord[:, None] * omega[None, :]
        parts += [angles.sin(), angles.cos()]
    table = torch.cat(parts, dim=1)
    table = torch.nn.functional.pad(table, (0, dim - table.shape[1]))  # dim not divisible by 4
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()


def build_random(preset: str, tokenizer, seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", attention: str | None = None):
    """A random-weight model of a preset, its <IMG_CONTEXT> id taken from `tokenizer`.

    transformers initialises the ViT's learned position embeddings to zeros, which is right for loading
    weights and wrong for training from scratch: with them zero no visual token knows where it is (the LLM's
    RoPE is relative, and the prompt's length varies), and a policy trained from this init clicks at the
    same spot on every screen. We start them as 2-D sine-cosine positions, as MAE does; they stay trainable.
    attention: transformers' attn_implementation; None picks `default_attention(device)`.
    """
    token_id = tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")
    config = preset_config(preset, image_token_id=token_id)
    config.text_config.vocab_size = max(config.text_config.vocab_size, len(tokenizer))
    torch.manual_seed(seed)
    with torch.device(device):
        model = InternVLForConditionalGeneration(config)
    embeddings = model.model.vision_tower.embeddings
    if embeddings.position_embeddings is not None:
        vision = config.vision_config
        grid = vision.image_size[0] // vision.patch_size[0]
        with torch.no_grad():
            embeddings.position_embeddings.copy_(sincos_position_embedding(grid, vision.hidden_size)[None])
    model.set_attn_implementation(attention or default_attention(device))
    return model.to(dtype).eval()


def ship_checkpoint(source: str | Path, name: str, bf16: bool = False, weights_dir: Path | None = None,
                    decoding: dict[str, dict] | None = None) -> Path:
    """Copy a checkpoint we trained into `weights_dir` (the package's model/weights/) as NAME, so that
    `internvl:NAME` finds it. bf16 casts the floating-point weights (half the size; `load_pretrained` casts them
    back to the dtype asked for): the package ships under 50 MB of weights. `decoding` (suite -> {"temperature":
    T}) is recorded in the copy's viragent.json: how InternVLPolicy decodes there unless told otherwise."""
    source = resolve_checkpoint(source)
    destination = Path(weights_dir or SHIPPED_DIR) / name
    if destination.exists():
        raise FileExistsError(f"{destination} exists; remove it first or choose another name")
    weights = sorted(source.glob("*.safetensors"))
    if not weights or not (source / "viragent.json").exists():
        raise FileNotFoundError(f"{source} is not a checkpoint trained here (safetensors + viragent.json)")
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("*.safetensors", "*.pt"))
    for path in weights:
        state = load_file(path)
        if bf16:
            state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
        with safe_open(path, "pt") as f:  # keep what a file records of itself (the pointer head's sizes)
            metadata = {**(f.metadata() or {}), "format": "pt"}
        save_file(state, destination / path.name, metadata=metadata)
        (destination / path.name).chmod(0o644)  # safetensors writes 0600; package data must be readable by all
    if decoding:
        meta = json.loads((destination / "viragent.json").read_text())
        meta["decoding"] = {**meta.get("decoding", {}), **decoding}
        (destination / "viragent.json").write_text(json.dumps(meta, indent=2))
    return destination


def save_checkpoint(model, tokenizer, directory: str | Path, meta: dict | None = None) -> Path:
    """Our own checkpoint: the HF layout (safetensors) plus `viragent.json` (how it was made, its settings)."""
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "viragent.json").write_text(json.dumps(meta or {}, indent=2))
    return directory
