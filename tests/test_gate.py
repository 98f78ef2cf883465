"""The watch waits until the model's own code can hold a parameter, and the used figures stay
exact whichever way that code gets one.

Every model here has a custom module whose forward touches one parameter of 6 numbers by one
route; everything else is used by torch.nn layers (Linear(4, 4): 20). So the used total is
20 + 6 = 26 when the route counts, and 20 when the parameter is only there. The expected
figures are worked out by hand from those sizes.
"""
from __future__ import annotations

import copy
import functools
import weakref

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from paths import fast_path_only
from torchsummary_plus import summary_string
from torchsummary_plus._watch import can_wait
from torchsummary_plus._index import index_model

LINEAR = 4 * 4 + 4  # the Linear(4, 4) every model below calls


def used(model: nn.Module, size=(4,)) -> int:
    return summary_string(model, size, device="cpu")[1].used_params


class Holder(nn.Module):
    """A Linear(4, 4) and a custom parameter of 6 numbers, reached by ``route``."""

    def __init__(self, route) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.extra = nn.Parameter(torch.ones(6))
        self.route = route

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.route(self).sum()


ROUTES = {
    "attribute": lambda m: m.extra,
    "getattr": lambda m: getattr(m, "extra"),
    "registry item": lambda m: m._parameters["extra"],
    "registry get": lambda m: m._parameters.get("extra"),
    "registry values": lambda m: list(m._parameters.values())[0],
    "registry items": lambda m: dict(m._parameters.items())["extra"],
    "dict() copy": lambda m: dict(m._parameters)["extra"],
    "unpacked": lambda m: {**m._parameters}["extra"],
    "copy.copy": lambda m: copy.copy(m._parameters)["extra"],
    "parameters()": lambda m: [p for p in m.parameters() if p.dim() == 1 and len(p) == 6][0],
    "named_parameters()": lambda m: dict(m.named_parameters())["extra"],
    "state_dict(keep_vars)": lambda m: m.state_dict(keep_vars=True)["extra"],
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_way_of_reading_a_registry_counts_the_parameter(route):
    assert used(Holder(ROUTES[route])) == LINEAR + 6


def test_a_parameter_of_a_torch_nn_child_used_without_calling_it():
    class Borrower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.other = nn.Linear(4, 6)  # never called: its weight is read, its bias not

        def forward(self, x):
            return F.linear(self.fc(x), self.other.weight)

    result = summary_string(Borrower(), (4,), device="cpu")[1]
    assert result.used_params == LINEAR + 24
    assert result.unused_params == 6


def test_a_parameter_only_present_is_still_unused():
    result = summary_string(Holder(lambda m: torch.zeros(1)), (4,), device="cpu")[1]
    assert (result.used_params, result.unused_params) == (LINEAR, 6)


HOLDS = {
    "a list": lambda p: functools.partial([p].__getitem__, 0),
    "a closure": lambda p: (lambda: p),
    "a weak reference": lambda p: weakref.ref(p),
}


@pytest.mark.parametrize("hold", list(HOLDS))
def test_a_reference_outside_the_registries_is_watched_from_the_start(hold):
    model = Holder(lambda m: m.fetch())
    model.fetch = HOLDS[hold](model.extra)
    assert used(model) == LINEAR + 6


def test_an_alias_of_a_registry_is_watched_from_the_start():
    model = Holder(lambda m: dict.__getitem__(m.own, "extra"))  # read past the guard
    model.__dict__["own"] = model._parameters  # the same dict under another name
    assert used(model) == LINEAR + 6


class LinearAndFour(nn.Module):
    """A Linear(4, 4) and a parameter of 4 numbers, for the models below."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.extra = nn.Parameter(torch.ones(4))


class Probe(LinearAndFour):
    """Notes the mode stack's length before and after touching a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, int]] = []

    def forward(self, x):
        self.stack.append(("before", torch._C._len_torch_function_stack()))
        y = self.fc(x)
        self.stack.append(("after the Linear", torch._C._len_torch_function_stack()))
        y = y * self.extra
        self.stack.append(("after the read", torch._C._len_torch_function_stack()))
        return y


@fast_path_only
def test_the_watch_is_off_until_custom_code_reads_a_parameter():
    model = Probe()
    assert used(model) == LINEAR + 4
    assert model.stack == [("before", 0), ("after the Linear", 0), ("after the read", 1)]
    assert torch._C._len_torch_function_stack() == 0


def test_an_optimizer_holding_the_parameters_has_the_watch_on_from_the_start():
    model = Probe()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert used(model) == LINEAR + 4
    assert model.stack == [("before", 1), ("after the Linear", 1), ("after the read", 1)]
    assert len(optimizer.param_groups[0]["params"]) == 3


def test_a_read_inside_the_model_s_own_mode_puts_the_watch_below_it():
    seen: list[str] = []

    class Counting(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append(getattr(func, "__name__", "?"))
            return func(*args, **(kwargs or {}))

    class OwnMode(LinearAndFour):
        def forward(self, x):
            with Counting() as mode:
                y = self.fc(x) * self.extra
                top = torch._C._get_function_stack_at(torch._C._len_torch_function_stack() - 1)
                assert top is mode
            return y + 1

    assert used(OwnMode()) == LINEAR + 4
    assert "mul" in seen
    assert torch._C._len_torch_function_stack() == 0


def test_the_registries_are_put_back_as_they_were():
    model = Holder(ROUTES["attribute"])
    registries = [(m, m._parameters) for m in model.modules()]
    used(model)
    for module, registry in registries:
        assert module._parameters is registry
        assert type(module._parameters) is dict


@fast_path_only
def test_a_read_from_another_thread_leaves_that_thread_s_modes_alone():
    import threading

    stacks: list[int] = []

    class Threaded(LinearAndFour):
        def forward(self, x):
            def read() -> None:
                self.extra.shape  # a registry read in a thread of its own
                stacks.append(torch._C._len_torch_function_stack())

            worker = threading.Thread(target=read)
            worker.start()
            worker.join()
            stacks.append(torch._C._len_torch_function_stack())
            return self.fc(x)

    result = summary_string(Threaded(), (4,), device="cpu")[1]
    assert stacks == [0, 0]  # the other thread's stack untouched; the pass's not switched on
    assert (result.used_params, result.unused_params) == (LINEAR, 4)


class PatchEncoder(nn.Module):
    """ViT-like: custom code reads a class token and position embeddings, and leaves one
    parameter unused."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.pos = nn.Parameter(torch.zeros(1, 5, 8))
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
        self.head = nn.Linear(8, 3)
        self.spare = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.encoder(x)[:, 0])


class TiedRecurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.rnn = nn.LSTM(6, 6, batch_first=True)
        self.out = nn.Linear(6, 20, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, x):
        return self.out(self.rnn(self.embed(x))[0])


class Reshaping(nn.Module):
    """Custom blocks that only reshape activations between torch.nn layers."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8)) for _ in range(3))
        self.stack: list[int] = []

    def forward(self, x):
        self.stack.append(torch._C._len_torch_function_stack())
        for block in self.blocks:
            x = x + block(x).view(x.shape).transpose(0, 0)
        return x


# (make, input size, dtypes, used parameters worked out by hand)
DIFFERENTIAL = {
    # conv 3*8*16+8 = 392, cls 8, pos 40, two encoder layers of 600 (attention 288, linear1
    # 144, linear2 136, two norms 32), head 27; the spare 3 never used
    "patch encoder": (lambda: PatchEncoder().eval(), (3, 8, 8), None, 392 + 8 + 40 + 1200 + 27),
    # embedding 20*6 = 120 (also the head's weight), LSTM 4*6*6*2 + 4*6*2 = 336
    "tied, recurrent": (TiedRecurrent, (5,), [torch.LongTensor], 120 + 336),
    # three blocks of LayerNorm(8) 16 and Linear(8, 8) 72
    "reshaping blocks": (Reshaping, (4, 8), None, 3 * 88),
}


@pytest.mark.parametrize("name", list(DIFFERENTIAL))
def test_waiting_prints_what_watching_from_the_start_prints(name):
    """Holding a reference to every parameter makes the watch start at once: the same model
    must give the same table, block and footnotes either way, and the used total worked out
    by hand."""
    make, size, dtypes, used_by_hand = DIFFERENTIAL[name]
    torch.manual_seed(0)
    model = make()
    waiting = summary_string(model, size, device="cpu", dtypes=dtypes)
    held = list(model.parameters())
    watching = summary_string(model, size, device="cpu", dtypes=dtypes)
    del held  # held through the second summary, which therefore watched from the start
    assert waiting[0] == watching[0]
    assert waiting[1].used_params == watching[1].used_params == used_by_hand


@fast_path_only
def test_custom_code_that_only_reshapes_never_switches_the_watch_on():
    model = Reshaping()
    summary_string(model, (4, 8), device="cpu")
    held = list(model.parameters())
    summary_string(model, (4, 8), device="cpu")
    del held
    assert model.stack == [0, 1]  # the second summary, with the references held, watched at once


class TiedPair(nn.Module):
    """Two modules holding one parameter: each registry is one of its references."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = nn.Embedding(5, 3)
        self.decode = nn.Linear(3, 5, bias=False)
        self.decode.weight = self.encode.weight


def test_a_parameter_shared_by_two_registries_still_lets_the_watch_wait():
    assert can_wait(index_model(TiedPair()))


def test_a_shared_parameter_held_elsewhere_too_has_the_watch_on_from_the_start():
    model = TiedPair()
    held = [model.encode.weight]
    assert not can_wait(index_model(model))
    del held
    assert can_wait(index_model(model))


class CallsWithOthersParameters(nn.Module):
    """Runs `a` with `b`'s parameters swapped in (torch.func.functional_call), and `a` itself
    only where ``plain_too`` is set. Each Linear(4, 4) has 16 + 4 = 20 parameters."""

    def __init__(self, plain_too: bool = False, hooked: bool = False) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.plain_too = plain_too
        if hooked:  # observed through hooks instead of an instance _call_impl
            self.a.register_forward_hook(lambda module, args, output: None)

    def forward(self, x):
        y = torch.func.functional_call(self.a, dict(self.b.named_parameters()), (x,))
        return y + self.a(x) if self.plain_too else y


@pytest.mark.parametrize("hooked", [False, True])
@pytest.mark.parametrize("wait", [True, False])
def test_a_torch_nn_layer_run_with_other_parameters_uses_those(wait, hooked):
    model = CallsWithOthersParameters(hooked=hooked)
    held = [] if wait else [model.a.weight]  # a reference outside the registries: no waiting
    _, result = summary_string(model, (4,), device="cpu")
    assert (result.used_params, result.unused_modules) == (20, ["a"])  # b's 20, not a's
    del held


def test_a_layer_run_with_other_parameters_and_with_its_own_uses_both():
    _, result = summary_string(CallsWithOthersParameters(plain_too=True), (4,), device="cpu")
    assert (result.used_params, result.unused_modules) == (40, [])
