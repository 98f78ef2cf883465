"""The test oracle itself, on a model whose used parameters are known by hand."""
import torch
import torch.nn as nn

from oracle import oracle_usage, summary_inputs


class Aliased(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3)
        self.c = nn.Linear(3, 3)
        self.b_weight_t = self.b.weight.T  # a view made before the pass
        self.c.bias.requires_grad_(False)

    def forward(self, x):
        return self.a(x) @ self.b_weight_t + self.c.bias.detach()


def test_oracle_sees_identity_and_storage():
    model = Aliased()
    usage = oracle_usage(model, lambda: model(*summary_inputs([(3,)])))
    # a: 9 + 3 by identity; b.weight: 9 through its transposed view; c.bias: 3 through
    # .detach(), frozen. Never seen: b.bias (3), c.weight (9). 36 in all.
    assert usage.unique_params == 36
    assert usage.used_params == 24
    assert usage.used_trainable_params == 21
    assert usage.unused_names == ("b.bias", "c.weight")
