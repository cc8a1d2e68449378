import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests use tiny tensors, where thread hand-offs cost more than the work on a shared CI box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
