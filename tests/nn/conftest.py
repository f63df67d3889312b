"""Neural-net tests run torch on one thread: on a shared 2-core machine, more threads spin and
slow every test down (a batch-1 forward went from ~4 ms to 16-46 ms with two)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)
