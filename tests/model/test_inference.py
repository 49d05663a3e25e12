"""Batched generation, seeded sampling and teacher-forced log-probs on a tiny random-weight model."""

import numpy as np
import pytest
import torch

from viragent.model.inference import VLMEngine
from viragent.model.loading import build_random
from viragent.model.processor import InternVLChatProcessor


@pytest.fixture(scope="module")
def engine(tiny_tokenizer):
    model = build_random("tiny", tiny_tokenizer, seed=0)
    return VLMEngine(model, InternVLChatProcessor(tiny_tokenizer, tile=224, tokens_per_tile=64, max_tiles=1))


def screens(n):
    return [np.random.RandomState(i).randint(0, 255, (210, 160, 3), dtype=np.uint8) for i in range(n)]


def test_batched_greedy_equals_one_by_one(engine):
    prompts = ["Click the button.", "Enter the password and press submit now."]
    batched = engine.generate(screens(2), prompts, max_new_tokens=6)
    single = [engine.generate([img], [p], max_new_tokens=6)[0] for img, p in zip(screens(2), prompts)]
    for b, s in zip(batched, single):
        assert b.token_ids == s.token_ids
        assert np.allclose(b.logprobs, s.logprobs, atol=1e-4)


def test_generation_keeps_the_prompt_states_the_pointer_reads(engine):
    """The pointer reads the prompt's last hidden states at the image positions and at the prompt's end; generate
    keeps them from its own prefill, equal to a separate forward pass, in a padded batch too."""
    prompts = ["Click the button.", "Enter the password and press submit now."]
    kept = engine.generate(screens(2), prompts, max_new_tokens=4, keep_prompt_states=True)
    assert engine.generate(screens(1), prompts[:1], max_new_tokens=4)[0].prompt_states is None
    for generation, image, prompt in zip(kept, screens(2), prompts):
        alone = engine.prompt_states(image, prompt)
        hidden = engine.model.config.text_config.hidden_size
        assert generation.prompt_states.visual.shape == alone.visual.shape == (64, hidden)
        assert torch.allclose(generation.prompt_states.visual, alone.visual, atol=1e-4)
        assert torch.allclose(generation.prompt_states.last, alone.last, atol=1e-4)
    single = engine.generate(screens(1), prompts[:1], max_new_tokens=4, keep_prompt_states=True)[0]
    alone = engine.prompt_states(screens(1)[0], prompts[0])
    assert torch.equal(single.prompt_states.visual, alone.visual) and torch.equal(single.prompt_states.last, alone.last)


def test_sampling_is_seeded(engine):
    kwargs = dict(max_new_tokens=8, temperature=1.0, top_p=0.95)
    a = engine.generate(screens(1), ["Click."], seed=7, **kwargs)[0]
    b = engine.generate(screens(1), ["Click."], seed=7, **kwargs)[0]
    c = engine.generate(screens(1), ["Click."], seed=8, **kwargs)[0]
    assert a.token_ids == b.token_ids and a.token_ids != c.token_ids


def test_teacher_forced_logprobs_match_generation(engine):
    gens = engine.generate(screens(2), ["Click.", "A much longer instruction for padding"], max_new_tokens=5)
    forced = engine.sequence_logprobs(screens(2), ["Click.", "A much longer instruction for padding"],
                                      [g.token_ids for g in gens])
    for g, f in zip(gens, forced):
        assert f.shape == (len(g.token_ids),)
        assert torch.allclose(f, torch.tensor(g.logprobs), atol=1e-4)
    assert all(lp <= 0 for g in gens for lp in g.logprobs)


def test_text_responses_get_the_stop_token(engine):
    [lp] = engine.sequence_logprobs(screens(1), ["Click."], ["click(x=1, y=2)"])
    n = len(engine.tokenizer("click(x=1, y=2)", add_special_tokens=False)["input_ids"])
    assert lp.shape == (n + 1,)


def test_gradients_flow_when_asked(engine):
    [lp] = engine.sequence_logprobs(screens(1), ["Click."], ["done()"], with_grad=True)
    lp.sum().backward()
    assert engine.model.lm_head.weight.grad is not None
    engine.model.zero_grad(set_to_none=True)


def test_visual_token_stats_sees_whether_images_differ(engine):
    same = engine.visual_token_stats(screens(1) * 4)
    different = engine.visual_token_stats(screens(4))
    assert same["content_ratio"] == pytest.approx(0.0, abs=1e-6)  # identical images: identical visual tokens
    assert different["content_ratio"] > 0.05  # a random-weight ViT passes image content through
    assert different["visual_token_norm"] > 0 and different["text_embedding_norm"] > 0
    with pytest.raises(ValueError, match="at least two images"):
        engine.visual_token_stats(screens(1))
