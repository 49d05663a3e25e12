"""SFT: square averaging on numbers worked by hand; a tiny model's loss falls on real samples."""

import numpy as np
import pytest
import torch
from PIL import Image

from viragent.model.loading import build_random, load_pretrained
from viragent.model.processor import InternVLChatProcessor
from viragent.model.train.sft import (
    IGNORE, SFTConfig, collate, cosine_lr, cpu_has_bf16_instructions, encode_sample, micro_batch_loss_terms, square_average_denominator,
    square_average_weights, square_averaged_loss, square_averaged_loss_terms, step_batches, train_sft,
)


def test_square_averaging_by_hand():
    # Sample A: 4 supervised tokens of loss 1 (w = 1/sqrt(4) = 0.5); sample B: 1 token of loss 3 (w = 1).
    # loss = (0.5*4*1 + 1*3) / (0.5*4 + 1*1) = 5/3, between the token mean 7/5 and the sample mean 2.
    losses = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    assert square_averaged_loss(losses, mask).item() == pytest.approx(5 / 3)
    assert square_average_weights(torch.tensor([4, 1, 0])).tolist() == [0.5, 1.0, 0.0]
    assert square_average_denominator(mask).item() == pytest.approx(3.0)


def test_accumulated_micro_batches_equal_one_batch():
    torch.manual_seed(0)
    losses, mask = torch.rand(6, 5), (torch.rand(6, 5) > 0.3).long()
    whole = square_averaged_loss(losses, mask)
    parts = [square_averaged_loss_terms(losses[i:i + 2], mask[i:i + 2]) for i in range(0, 6, 2)]
    assert (sum(n for n, _ in parts) / sum(d for _, d in parts)).item() == pytest.approx(whole.item())


def test_cosine_schedule_warms_up_then_decays():
    config = SFTConfig(steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert cosine_lr(0, config) == pytest.approx(0.1) and cosine_lr(9, config) == pytest.approx(1.0)
    assert cosine_lr(99, config) == pytest.approx(0.1, abs=1e-3) and cosine_lr(55, config) < 1.0


@pytest.fixture
def samples(tmp_path):
    rng = np.random.RandomState(0)
    out = []
    for i in range(4):
        path = tmp_path / f"s{i}.png"
        Image.fromarray(rng.randint(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        out.append({"id": str(i), "image": str(path), "conversations": [
            {"from": "human", "value": f"<image>\nTask: press button {i}\nNext action:"},
            {"from": "gpt", "value": f"click(x={100 * i + 50}, y=500)"}]})
    return out


def test_labels_cover_only_the_response(samples, tiny_tokenizer):
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    enc = encode_sample(samples[0], proc)
    supervised = [t for t, l in zip(enc["input_ids"], enc["labels"]) if l != IGNORE]
    assert tiny_tokenizer.decode(supervised) == "click(x=50, y=500)<|im_end|>"
    batch = collate([enc, encode_sample(samples[1], proc)], tiny_tokenizer.pad_token_id)
    assert batch["pixel_values"].shape == (2, 3, 224, 224)


def test_training_lowers_the_loss_and_resumes(samples, tiny_tokenizer, tmp_path):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    config = SFTConfig(out=str(tmp_path / "run"), steps=30, batch_size=4, micro_batch=2, lr=3e-3, warmup_steps=3,
                       save_every=15, log_every=10)
    evals = []
    config.eval_every = 15
    result = train_sft(model, proc, samples, config, evaluate=lambda m, step: evals.append(step) or {"step": step})
    losses = [h["loss"] for h in result["history"]]
    assert losses[-1] < 0.5 * losses[0] and evals == [15, 30]
    loaded, _, layout = load_pretrained(result["checkpoint"])
    assert layout == "viragent"
    # Resuming a finished run does no more steps and keeps the history.
    again = train_sft(build_random("tiny", tiny_tokenizer, seed=1), proc, samples, config)
    assert len(again["history"]) == 30


def test_loader_workers_build_the_same_batches_as_inline(samples, tiny_tokenizer, tmp_path):
    """With DataLoader workers (for a GPU) each step gets exactly the batch the inline loop builds, resumed runs
    included, so a run's data does not depend on how many processes encoded it."""
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    inline = SFTConfig(steps=6, batch_size=3, micro_batch=2)
    workers = SFTConfig(steps=6, batch_size=3, micro_batch=2, loader_workers=2)
    for first in (0, 4):
        expected, got = list(step_batches(samples, proc, inline, first)), list(step_batches(samples, proc, workers, first))
        assert len(got) == len(expected) == 6 - first
        for (n_a, micro_a), (n_b, micro_b) in zip(expected, got):
            assert n_a == n_b == 3 and len(micro_a) == len(micro_b) == 2
            for a, b in zip(micro_a, micro_b):
                assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["pixel_values"], b["pixel_values"])
    # And a short run trains the same: same losses step by step.
    runs = [train_sft(build_random("tiny", tiny_tokenizer, seed=0), proc, samples,
                      SFTConfig(out=str(tmp_path / name), steps=4, batch_size=4, micro_batch=2, warmup_steps=1,
                                loader_workers=n))["history"] for name, n in (("inline", 0), ("workers", 2))]
    assert [h["loss"] for h in runs[1]] == pytest.approx([h["loss"] for h in runs[0]], rel=1e-5)


def test_packed_rows_train_on_exactly_the_padded_loss(samples, tiny_tokenizer):
    """Packing changes the layout, not the loss: transformers' block-diagonal mask keeps samples apart, and
    the trainer's per-token weights give InternVL's square average."""
    from viragent.model.train.sft import collate_packed, micro_batch_loss_terms

    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    samples[1]["conversations"][1]["value"] = 'type(text="a much longer answer than the others", submit=true)'
    encoded = [encode_sample(s, proc) for s in samples]
    padded = collate(encoded, tiny_tokenizer.pad_token_id)
    packed = collate_packed(encoded, tiny_tokenizer.pad_token_id, row_tokens=10_000)
    assert packed["input_ids"].shape[0] == 1 and padded["input_ids"].shape[0] == 4  # all four in one row
    device = torch.device("cpu")
    num_padded, den_padded, _, no_regions = micro_batch_loss_terms(model, padded, device)[:4]
    num_packed, den_packed, _, _ = micro_batch_loss_terms(model, packed, device)[:4]
    assert no_regions.item() == 0  # these samples carry no regions
    assert den_packed.item() == pytest.approx(den_padded.item())
    assert (num_packed / den_packed).item() == pytest.approx((num_padded / den_padded).item(), rel=1e-4)
    # ... and both are the square average of the per-token cross-entropies, computed here independently.
    with torch.no_grad():
        logits = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"],
                       pixel_values=padded["pixel_values"]).logits
    labels = padded["labels"][:, 1:]
    token_losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels.clamp(min=0),
                                                     reduction="none")
    expected = square_averaged_loss(token_losses, (labels != IGNORE).long())
    assert (num_padded / den_padded).item() == pytest.approx(expected.item(), rel=1e-5)


def test_packing_starts_a_new_row_when_full(samples, tiny_tokenizer):
    from viragent.model.train.sft import collate_packed

    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    encoded = [encode_sample(s, proc) for s in samples]
    one = len(encoded[0]["input_ids"])
    packed = collate_packed(encoded, tiny_tokenizer.pad_token_id, row_tokens=2 * one + 1)
    assert packed["input_ids"].shape[0] == 2
    assert packed["position_ids"][0, one].item() == 0  # the second sample restarts its positions
    assert packed["pixel_values"].shape[0] == 4


def test_cpu_bf16_autocast_computes_the_same_loss_in_bf16(samples, tiny_tokenizer):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    batch = collate([encode_sample(s, proc) for s in samples[:4]], tiny_tokenizer.pad_token_id)
    fp32 = micro_batch_loss_terms(model, batch, torch.device("cpu"))
    bf16 = micro_batch_loss_terms(model, batch, torch.device("cpu"), cpu_bf16=True)
    ratio = (bf16.numerator / bf16.denominator).item() / (fp32.numerator / fp32.denominator).item()
    assert ratio == pytest.approx(1.0, abs=0.02) and ratio != 1.0  # bf16 matmuls: close, not bit-identical


def test_bf16_instructions_are_read_from_cpuinfo(tmp_path):
    with_amx, without = tmp_path / "amx", tmp_path / "plain"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16x\n")
    assert cpu_has_bf16_instructions(with_amx) is True
    assert cpu_has_bf16_instructions(without) is False  # a longer flag that only starts with the name is not it
    assert cpu_has_bf16_instructions(tmp_path / "missing") is None


def test_pure_text_samples_train_alone_and_beside_images(samples, tiny_tokenizer, tmp_path):
    """A sample without "image" (InternVL's SFT format allows pure text) loads, encodes with no visual tokens, and
    has the same loss in a batch of its own as beside an image sample."""
    import json

    from viragent.agent.datasets import load_sft

    (tmp_path / "text.jsonl").write_text(json.dumps({"id": "t", "conversations": [
        {"from": "human", "value": "Task: Is the red ball in front of you?\nIn front of you: red box.\nNext action:"},
        {"from": "gpt", "value": 'done(answer="no")'}]}) + "\n")
    (tmp_path / "meta.json").write_text(json.dumps({"text": {"annotation": str(tmp_path / "text.jsonl")}}))
    [text] = load_sft(tmp_path / "meta.json")
    assert "image" not in text
    model = build_random("tiny", tiny_tokenizer, seed=0).eval()
    proc = InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1)
    encoded_text, encoded_image = encode_sample(text, proc), encode_sample(samples[0], proc)
    assert encoded_text["pixel_values"].shape == (0, 3, 224, 224) and encoded_text["n_visual"] == 0
    cpu, pad = torch.device("cpu"), tiny_tokenizer.pad_token_id
    alone = micro_batch_loss_terms(model, collate([encoded_text], pad), cpu)
    image = micro_batch_loss_terms(model, collate([encoded_image], pad), cpu)
    mixed = micro_batch_loss_terms(model, collate([encoded_image, encoded_text], pad), cpu)
    assert alone.numerator.item() > 0
    assert mixed.numerator.item() == pytest.approx(alone.numerator.item() + image.numerator.item(), rel=1e-4)
    with pytest.raises(ValueError, match="placeholders"):  # a pure-text sample may not ask for an image
        encode_sample({"conversations": [{"from": "human", "value": "<image>\nNext action:"},
                                         {"from": "gpt", "value": "wait()"}]}, proc)
