"""Checkpoint layouts: original OpenGVLab -> transformers conversion proven by identical logits."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from viragent.model.config import PUBLISHED, parameter_counts_of, preset_config
from viragent.model.loading import (
    CheckpointNotFound, UnknownCheckpointLayout, build_random, checkpoint_layout, load_pretrained,
)
from viragent.model.processor import InternVLChatProcessor


def to_original_layout(hf_state: dict) -> dict:
    """The inverse of the conversion, written independently here: transformers names -> OpenGVLab names."""
    out, qkv = {}, {}
    for key, t in hf_state.items():
        if key.startswith("model.vision_tower.embeddings."):
            rest = key[len("model.vision_tower.embeddings."):]
            rest = {"cls_token": "class_embedding", "position_embeddings": "position_embedding"}.get(rest, rest)
            out["vision_model.embeddings." + rest.replace("patch_embeddings.projection.", "patch_embedding.")] = t
        elif key.startswith("model.vision_tower.encoder.layer."):
            rest = key[len("model.vision_tower.encoder.layer."):]
            layer, _, name = rest.partition(".")
            if name.startswith("attention.") and name.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                part, param = name.split(".")[1][0], name.split(".")[2]
                qkv.setdefault((layer, param), {})[part] = t
                continue
            name = (name.replace("attention.projection_layer.", "attn.proj.").replace("layernorm_before.", "norm1.")
                    .replace("layernorm_after.", "norm2.").replace("lambda_1", "ls1").replace("lambda_2", "ls2"))
            out[f"vision_model.encoder.layers.{layer}.{name}"] = t
        elif key.startswith("model.multi_modal_projector."):
            name, param = key.split(".")[2:]
            out[f"mlp1.{ {'layer_norm': 0, 'linear_1': 1, 'linear_2': 3}[name] }.{param}"] = t
        elif key.startswith("model.language_model."):
            out["language_model.model." + key[len("model.language_model."):]] = t
        elif key == "lm_head.weight":
            out["language_model.lm_head.weight"] = t
    for (layer, param), parts in qkv.items():
        out[f"vision_model.encoder.layers.{layer}.attn.qkv.{param}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def original_config(config) -> dict:
    v, t = config.vision_config, config.text_config.to_dict()
    return {"model_type": "internvl_chat", "template": "internvl2_5", "downsample_ratio": 0.5, "ps_version": "v2",
            "select_layer": -1, "force_image_size": v.image_size[0], "dynamic_image_size": True,
            "max_dynamic_patch": 12, "min_dynamic_patch": 1, "use_thumbnail": True,
            "vision_config": {"model_type": "intern_vit_6b", "hidden_size": v.hidden_size,
                              "num_hidden_layers": v.num_hidden_layers, "num_attention_heads": v.num_attention_heads,
                              "intermediate_size": v.intermediate_size, "qkv_bias": True, "qk_normalization": False,
                              "norm_type": "layer_norm", "layer_norm_eps": 1e-6, "image_size": v.image_size[0],
                              "patch_size": v.patch_size[0], "hidden_act": "gelu"},
            "llm_config": {**t, "architectures": ["Qwen3ForCausalLM"]}}


def logits_of(model, tokenizer):
    proc = InternVLChatProcessor(tokenizer, tile=224, tokens_per_tile=64, max_tiles=2)
    image = np.random.RandomState(1).randint(0, 255, (300, 500, 3), dtype=np.uint8)
    batch = proc([image], ["Click the OK button."])
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     pixel_values=batch["pixel_values"]).logits


@pytest.fixture(scope="module")
def source(tiny_tokenizer):
    return build_random("tiny", tiny_tokenizer, seed=3)


def test_original_layout_converts_to_identical_logits(tmp_path, source, tiny_tokenizer):
    directory = tmp_path / "InternVL3_5-tiny-original"
    directory.mkdir()
    state = to_original_layout({k: v.contiguous() for k, v in source.state_dict().items()})
    assert any(".attn.qkv." in k for k in state) and "mlp1.0.weight" in state and "vision_model.embeddings.class_embedding" in state
    state.pop("language_model.lm_head.weight")  # tied in tiny: the original files store it once
    save_file(state, directory / "model.safetensors")
    (directory / "config.json").write_text(json.dumps(original_config(source.config)))
    tiny_tokenizer.save_pretrained(directory)

    assert checkpoint_layout(directory) == "original"
    model, tokenizer, layout = load_pretrained(directory)
    assert layout == "original"
    assert torch.equal(logits_of(model, tokenizer), logits_of(source, tiny_tokenizer))


def test_hf_layout_round_trip(tmp_path, source, tiny_tokenizer):
    source.save_pretrained(tmp_path / "hf")
    tiny_tokenizer.save_pretrained(tmp_path / "hf")
    model, tokenizer, layout = load_pretrained(tmp_path / "hf")
    assert layout == "hf"
    assert torch.equal(logits_of(model, tokenizer), logits_of(source, tiny_tokenizer))


def test_cpu_models_get_eager_attention_with_the_same_logits(tmp_path, source, tiny_tokenizer):
    # eager is the CPU default for speed (default_attention); it must compute what SDPA computes
    assert {source.config._attn_implementation, source.config.text_config._attn_implementation,
            source.config.vision_config._attn_implementation} == {"eager"}
    source.save_pretrained(tmp_path / "hf")
    tiny_tokenizer.save_pretrained(tmp_path / "hf")
    sdpa, _, _ = load_pretrained(tmp_path / "hf", attention="sdpa")
    assert sdpa.config.text_config._attn_implementation == "sdpa"
    torch.testing.assert_close(logits_of(sdpa, tiny_tokenizer), logits_of(source, tiny_tokenizer), atol=1e-4, rtol=1e-4)


def test_hub_id_gets_a_clear_error():
    with pytest.raises(CheckpointNotFound, match="huggingface-cli download OpenGVLab/InternVL3_5-1B-HF"):
        load_pretrained("OpenGVLab/InternVL3_5-1B-HF")


def test_foreign_directory_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UnknownCheckpointLayout, match="model_type='llama'"):
        checkpoint_layout(tmp_path)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_presets_match_the_model_cards(name):
    counts = parameter_counts_of(name)
    for part, expected in zip(("vit", "mlp", "llm"), PUBLISHED[name][2]):
        assert abs(counts[part] / expected - 1) < 0.01, (name, part, counts[part], expected)
    config = preset_config(name)
    assert config.image_token_id == 151671 and config.image_seq_length == 256


def test_random_init_gives_every_patch_its_own_position():
    """transformers zero-inits the ViT position table; from scratch that leaves tokens without a position."""
    from viragent.model.tokenizer import train_tokenizer

    model = build_random("tiny", train_tokenizer(["click(x=1, y=2)"] * 10, vocab_size=300))
    table = model.model.vision_tower.embeddings.position_embeddings[0, 1:]
    assert torch.unique(table, dim=0).shape[0] == table.shape[0]  # 256 patches, 256 distinct rows


def test_shipped_checkpoint_resolves_by_name_and_unknown_names_list_choices():
    from viragent.model.loading import resolve_checkpoint, shipped_checkpoints

    shipped = shipped_checkpoints()
    assert "viragent-tiny" in shipped  # the trained policy is package data
    assert resolve_checkpoint("viragent-tiny") == shipped["viragent-tiny"]
    with pytest.raises(CheckpointNotFound, match="viragent-tiny"):
        resolve_checkpoint("viragent-huge")


def test_shipping_in_bf16_halves_the_weights_and_keeps_the_model(tmp_path, source, tiny_tokenizer):
    from viragent.model.loading import save_checkpoint, ship_checkpoint

    trained = save_checkpoint(source, tiny_tokenizer, tmp_path / "run" / "final", {"prompt": {"image": "last"}})
    shipped = ship_checkpoint(trained, "mine", bf16=True, weights_dir=tmp_path / "weights")
    assert shipped == tmp_path / "weights" / "mine"
    assert json.loads((shipped / "viragent.json").read_text()) == {"prompt": {"image": "last"}}
    full, half = (trained / "model.safetensors").stat().st_size, (shipped / "model.safetensors").stat().st_size
    assert 0.45 < half / full < 0.55
    model, tokenizer, layout = load_pretrained(shipped)  # cast back to fp32 on load
    assert layout == "viragent" and model.dtype == torch.float32
    reference = logits_of(source, tiny_tokenizer)
    assert not torch.equal(logits_of(model, tokenizer), reference)  # rounded ...
    torch.testing.assert_close(logits_of(model, tokenizer), reference, atol=0.05, rtol=0.05)  # ... not changed
    with pytest.raises(FileExistsError, match="choose another name"):
        ship_checkpoint(trained, "mine", weights_dir=tmp_path / "weights")


def test_model_ship_records_a_suites_temperature(tmp_path, source, tiny_tokenizer, monkeypatch):
    """`viragent model ship --temperature babyai=1.0`: the copy's viragent.json says how to decode there, and a
    malformed pair is refused with the form to use."""
    from typer.testing import CliRunner

    import viragent.model.loading as loading
    from viragent.agent.cli import app
    from viragent.model.loading import save_checkpoint

    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "weights")  # not into the installed package
    trained = save_checkpoint(source, tiny_tokenizer, tmp_path / "final", {"prompt": {"image": "last"}})
    r = CliRunner().invoke(app, ["model", "ship", str(trained), "mine", "--temperature", "babyai=1.0"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "weights" / "mine" / "viragent.json").read_text())
    assert meta == {"prompt": {"image": "last"}, "decoding": {"babyai": {"temperature": 1.0}}}
    r = CliRunner().invoke(app, ["model", "ship", str(trained), "other", "--temperature", "babyai:1"])
    assert r.exit_code != 0 and "SUITE=T" in r.output and not (tmp_path / "weights" / "other").exists()
