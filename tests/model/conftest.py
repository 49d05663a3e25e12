import pytest

from viragent.agent.internvl_policy import tiny_tokenizer as _tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return _tiny_tokenizer()
