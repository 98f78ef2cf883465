"""Eleven transformers architectures built from small configs in code (no download, no weights).

Each model sits in a small adapter whose forward takes float tensors, as torchsummary feeds
them (uniform noise in [0, 1)), turns them into what the model expects (token ids scaled to
the vocabulary, decoder ids for encoder-decoders) and returns one tensor, so that
torchsummary can describe the output. ``HF_HUB_OFFLINE`` is set before transformers is
imported, so nothing here can reach a hub.

Under transformers 5, torchsummary 1.5.1 crashes on all but ResNet (built with
``return_dict=False`` for that): attentions return ``(output, None)``, inner models return
ModelOutput dicts or are called with keyword arguments only.
"""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

from typing import Any, Callable, NamedTuple  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.utils.parametrize as parametrize  # noqa: E402
import transformers  # noqa: E402

VOCAB = 100  # every text model's vocabulary


def token_ids(x: torch.Tensor, vocab: int = VOCAB) -> torch.Tensor:
    """Noise in [0, 1) to ids spread over the vocabulary (``x.long()`` alone gives all zeros)."""
    return (x * vocab).long()


class TextAdapter(nn.Module):
    """One float tensor of shape (batch, length) in, the model's ``field`` out."""

    def __init__(self, model: nn.Module, field: str) -> None:
        super().__init__()
        self.model = model
        self.field = field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=token_ids(x))[self.field]


class Seq2SeqAdapter(nn.Module):
    """Encoder ids and decoder ids, each from a float tensor, to the model's logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=token_ids(source), decoder_input_ids=token_ids(target))
        return out["logits"]


class SignalAdapter(nn.Module):
    """A float tensor passed on as is (pixels, audio), the model's ``field`` out: a name, or
    an index where the model returns a tuple."""

    def __init__(self, model: nn.Module, field: str | int) -> None:
        super().__init__()
        self.model = model
        self.field = field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[self.field]


def albert() -> nn.Module:
    # three layers, one group: the same AlbertLayer runs three times; the embeddings are
    # frozen, as when fine-tuning, so trainable and total differ
    config = transformers.AlbertConfig(
        vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=3,
        num_hidden_groups=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=32,
    )
    model = transformers.AlbertModel(config).eval()
    assert len(model.encoder.albert_layer_groups) == 1  # the sharing this case is for
    model.embeddings.requires_grad_(False)
    return TextAdapter(model, "last_hidden_state")


def gpt2() -> nn.Module:
    # lm_head.weight is transformer.wte.weight; train mode: dropout draws from the global RNG
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=2, use_cache=False,
        bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1,
    )
    model = transformers.GPT2LMHeadModel(config).train()
    assert model.lm_head.weight is model.transformer.wte.weight  # the tie this case is for
    return TextAdapter(model, "logits")


def t5() -> nn.Module:
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, decoder_start_token_id=0, use_cache=False,
    )
    model = transformers.T5ForConditionalGeneration(config).eval()
    assert model.encoder.embed_tokens.weight is model.shared.weight is model.lm_head.weight
    return Seq2SeqAdapter(model)


def bart() -> nn.Module:
    config = transformers.BartConfig(
        vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_position_embeddings=32, use_cache=False,
    )
    return Seq2SeqAdapter(transformers.BartForConditionalGeneration(config).eval())


LONG = 24  # ids fed to LLaMA and M2M100, more than the positions they were built for


def llama_dynamic_rope() -> nn.Module:
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16, use_cache=False,
        rope_scaling={"rope_type": "dynamic", "factor": 2.0},
    )
    # given more ids than max_position_embeddings, dynamic RoPE recomputes inv_freq and
    # registers the new tensor in place of the buffer
    assert config.rope_parameters["rope_type"] == "dynamic" and LONG > 16
    return TextAdapter(transformers.LlamaForCausalLM(config).eval(), "logits")


def m2m100() -> nn.Module:
    config = transformers.M2M100Config(
        vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_position_embeddings=16, use_cache=False,
    )
    model = transformers.M2M100ForConditionalGeneration(config).eval()
    # LONG ids need positions up to LONG + 2 (its padding offset): forward builds a larger
    # sinusoidal table and registers it in place of the buffer
    assert model.model.encoder.embed_positions.weights.shape[0] < LONG + 2
    return Seq2SeqAdapter(model)


def vit() -> nn.Module:
    # train mode with dropout, as when fine-tuning
    config = transformers.ViTConfig(
        image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, hidden_dropout_prob=0.1, num_labels=5,
    )
    return SignalAdapter(transformers.ViTForImageClassification(config).train(), "logits")


def wav2vec2() -> nn.Module:
    # eval mode: SpecAugment masking in train mode draws from numpy's RNG
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    model = transformers.Wav2Vec2Model(config).eval()
    assert parametrize.is_parametrized(model.encoder.pos_conv_embed.conv)  # weight norm
    return SignalAdapter(model, "last_hidden_state")


def mixtral() -> nn.Module:
    # eight experts, two chosen per token; transformers 5 keeps each layer's experts in two
    # 3-d parameters, so an expert no token chose is still part of a used tensor
    config = transformers.MixtralConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2,
        max_position_embeddings=64, use_cache=False,
    )
    return TextAdapter(transformers.MixtralForCausalLM(config).eval(), "logits")


def resnet() -> nn.Module:
    # train mode: BatchNorm updates its running statistics; return_dict=False makes every
    # module return tensors (or a tuple of 4-d tensors), so torchsummary 1.5.1 runs on it
    config = transformers.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], return_dict=False,
    )
    return SignalAdapter(transformers.ResNetModel(config).train(), 0)


def encodec() -> nn.Module:
    config = transformers.EncodecConfig(
        audio_channels=1, num_filters=4, upsampling_ratios=[2, 2], hidden_size=8,
        codebook_size=16, codebook_dim=8, num_residual_layers=1, num_lstm_layers=1,
        norm_type="weight_norm", target_bandwidths=[1.5], sampling_rate=800,
    )
    model = transformers.EncodecModel(config).eval()
    assert parametrize.is_parametrized(model.encoder.layers[0].conv)  # weight norm
    return SignalAdapter(model, "audio_values")


class Case(NamedTuple):
    name: str
    make: Callable[[], nn.Module]
    input_size: Any  # torchsummary's input_size: a tuple, or a list of tuples
    # what torchsummary 1.5.1 raises on it, and a pattern of its message; None where it runs
    torchsummary_error: tuple[type[Exception], str] | None


# torchsummary's hook reads each output's .size() and each call's first positional input
NO_SIZE = (AttributeError, "'NoneType' object has no attribute 'size'")  # an attention's (out, None)
NO_INPUT = (IndexError, "tuple index out of range")  # a layer called with keyword arguments only
NESTED = (AttributeError, "'tuple' object has no attribute 'size'")  # LSTM's (out, (h, c))


CASES = [
    Case("albert", albert, (12,), NO_SIZE),
    Case("gpt2", gpt2, (12,), NO_SIZE),
    Case("t5", t5, [(12,), (8,)], NO_SIZE),
    Case("bart", bart, [(12,), (8,)], NO_SIZE),
    Case("llama_dynamic_rope", llama_dynamic_rope, (LONG,), NO_INPUT),
    Case("m2m100", m2m100, [(LONG,), (LONG,)], NO_INPUT),
    Case("vit", vit, (3, 16, 16), NO_SIZE),
    Case("wav2vec2", wav2vec2, (400,), NO_SIZE),
    Case("mixtral", mixtral, (12,), NO_INPUT),
    Case("resnet", resnet, (3, 32, 32), None),
    Case("encodec", encodec, (1, 64), NESTED),
]
