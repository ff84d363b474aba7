"""PyTorch encoders (one per input kind), fusion heads and the two-tower model.

Every encoder takes a batch dict from :meth:`Prepared.take` (already tensors
on the device) and returns a ``(batch, out_dim)`` feature matrix.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmfuse.bench.baselines._inputs import IMAGE_CHANNELS, PAD_ID

#: Width of the word embeddings of the text encoders.
TEXT_EMBED_DIM = 64
#: Width of a MiniLM sentence embedding.
MINILM_DIM = 384


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 grey images (ReLU, max-pooling): conv 6@5x5 (padding 2) -> pool ->
    conv 16@5x5 -> pool -> 120 -> 84 features."""

    out_dim = 84

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU())

    def forward(self, batch):
        return self.features(batch["x"])


def _conv_block(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]


class SmallConvNet(nn.Module):
    """Four 3x3 conv blocks (16-32-64-64 channels, each with 2x2 max-pooling) on 64x64
    colour images, then a ``hidden``-unit ReLU layer."""

    def __init__(self, hidden, in_channels=IMAGE_CHANNELS["convnet"]):
        super().__init__()
        self.out_dim = hidden
        self.features = nn.Sequential(
            *_conv_block(in_channels, 16), *_conv_block(16, 32), *_conv_block(32, 64),
            *_conv_block(64, 64), nn.Flatten(), nn.Linear(64 * 4 * 4, hidden), nn.ReLU())

    def forward(self, batch):
        return self.features(batch["x"])


class MLPEncoder(nn.Module):
    """One ``hidden``-unit ReLU layer over a precomputed feature vector."""

    def __init__(self, n_features, hidden):
        super().__init__()
        self.out_dim = hidden
        self.layer = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())

    def forward(self, batch):
        return self.layer(batch["x"])


class AudioCNN(nn.Module):
    """2-D CNN on a log-mel spectrogram ``(n_mels, frames)``: three 3x3 conv blocks
    (16-32-64), adaptive average pooling to 4x4, then a ``hidden``-unit ReLU layer."""

    def __init__(self, hidden):
        super().__init__()
        self.out_dim = hidden
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((4, 4)),
            nn.Flatten(), nn.Linear(64 * 16, hidden), nn.ReLU())

    def forward(self, batch):
        return self.features(batch["x"][:, None])


def _last_hidden(gru, inputs, lengths):
    """Final hidden state of a GRU over padded ``inputs`` (batch first), packed by length."""
    packed = pack_padded_sequence(inputs, lengths.clamp(min=1).cpu(), batch_first=True,
                                  enforce_sorted=False)
    _, hidden = gru(packed)
    return hidden[-1]


class AudioGRU(nn.Module):
    """GRU (``hidden`` units) over the log-mel frames; the final hidden state."""

    def __init__(self, n_mels, hidden):
        super().__init__()
        self.out_dim = hidden
        self.gru = nn.GRU(n_mels, hidden, batch_first=True)

    def forward(self, batch):
        return _last_hidden(self.gru, batch["x"].transpose(1, 2), batch["lengths"])


class TextBag(nn.Module):
    """Mean of the word embeddings (``nn.EmbeddingBag``); an empty text gives zeros."""

    out_dim = TEXT_EMBED_DIM

    def __init__(self, n_ids):
        super().__init__()
        self.bag = nn.EmbeddingBag(n_ids, TEXT_EMBED_DIM, mode="mean")

    def forward(self, batch):
        return self.bag(batch["ids"], batch["offsets"])


class TextGRU(nn.Module):
    """Word embeddings then a GRU (``hidden`` units, packed sequences); the mean of its
    outputs over the text's tokens (zero for an empty text). Over documents of hundreds of
    tokens the mean trains far better than the final state alone."""

    def __init__(self, n_ids, hidden):
        super().__init__()
        self.out_dim = hidden
        self.embedding = nn.Embedding(n_ids, TEXT_EMBED_DIM, padding_idx=PAD_ID)
        self.gru = nn.GRU(TEXT_EMBED_DIM, hidden, batch_first=True)

    def forward(self, batch):
        lengths = batch["lengths"]
        width = max(1, int(lengths.max()))
        packed = pack_padded_sequence(self.embedding(batch["ids"][:, :width]),
                                      lengths.clamp(min=1).cpu(), batch_first=True,
                                      enforce_sorted=False)
        outputs, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True,
                                         total_length=width)
        mask = (torch.arange(width, device=lengths.device).unsqueeze(0)
                < lengths.unsqueeze(1)).to(outputs.dtype)
        total = (outputs * mask.unsqueeze(2)).sum(dim=1)
        return total / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype)


class MiniLMHead(nn.Module):
    """Trainable ``hidden``-unit ReLU layer over a frozen MiniLM sentence embedding."""

    def __init__(self, hidden):
        super().__init__()
        self.out_dim = hidden
        self.layer = nn.Sequential(nn.Linear(MINILM_DIM, hidden), nn.ReLU())

    def forward(self, batch):
        return self.layer(batch["x"])


def make_encoder(kind, featurizer, hidden):
    """The encoder module of ``kind`` for a fitted featurizer."""
    if kind == "lenet":
        return LeNet5()
    if kind == "convnet":
        return SmallConvNet(hidden)
    if kind == "mlp":
        return MLPEncoder(featurizer.n_features_, hidden)
    if kind == "audio_cnn":
        return AudioCNN(hidden)
    if kind == "audio_gru":
        return AudioGRU(featurizer.n_mels, hidden)
    if kind == "text_bag":
        return TextBag(featurizer.n_ids_)
    if kind == "text_gru":
        return TextGRU(featurizer.n_ids_, hidden)
    if kind == "minilm":
        return MiniLMHead(hidden)
    raise ValueError(f"unknown encoder kind {kind!r}")


class FusionNet(nn.Module):
    """Encoders per modality, fused early (concatenate -> MLP head) or late (one linear head
    per modality, logits averaged over the present modalities).

    :meth:`modality_logits` gives the late heads' logits one by one: late fusion is
    trained on the sum of the per-modality cross-entropies, i.e. as independent
    unimodal classifiers whose logits are averaged at prediction time.
    """

    def __init__(self, encoders, fusion, hidden, n_classes):
        super().__init__()
        self.fusion = fusion
        self.encoders = nn.ModuleDict(encoders)
        if fusion == "early":
            width = sum(e.out_dim for e in encoders.values())
            self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(),
                                      nn.Linear(hidden, n_classes))
        else:
            self.heads = nn.ModuleDict(
                {name: nn.Linear(e.out_dim, n_classes) for name, e in encoders.items()})

    def forward(self, batches):
        if self.fusion == "early":
            features = []
            for name, encoder in self.encoders.items():
                present = batches[name]["present"].unsqueeze(1)
                features.append(encoder(batches[name]) * present.to(torch.float32))
            return self.head(torch.cat(features, dim=1))
        total, count = 0.0, 0.0
        for logits, present in self.modality_logits(batches).values():
            present = present.to(torch.float32).unsqueeze(1)
            total = total + logits * present
            count = count + present
        return total / count.clamp(min=1.0)

    def modality_logits(self, batches):
        """{modality: (logits, present mask)} of the late heads."""
        return {name: (self.heads[name](encoder(batches[name])), batches[name]["present"])
                for name, encoder in self.encoders.items()}


class Tower(nn.Module):
    """An encoder then a linear map into the shared space, L2-normalised."""

    def __init__(self, encoder, dim):
        super().__init__()
        self.encoder = encoder
        self.project = nn.Linear(encoder.out_dim, dim)

    def forward(self, batch):
        return nn.functional.normalize(self.project(self.encoder(batch)), dim=1)


class TwoTowerNet(nn.Module):
    """The image tower and the text tower of a two-tower retriever."""

    def __init__(self, tower_x, tower_y):
        super().__init__()
        self.tower_x = tower_x
        self.tower_y = tower_y


def hinge_rank_loss(ex, ey, margin, labels=None):
    """Bidirectional hinge rank loss, summed over in-batch negatives, mean over the batch.

    For each matched pair ``(i, i)`` and each negative ``j``:
    ``max(0, margin - s(x_i, y_i) + s(x_i, y_j)) + max(0, margin - s(x_i, y_i) + s(x_j, y_i))``
    with ``s`` the dot product of the (normalised) embeddings. With ``labels``,
    items of the same class are not negatives.
    """
    scores = ex @ ey.T
    positive = scores.diagonal()
    cost_y = (margin - positive.unsqueeze(1) + scores).clamp(min=0)  # x_i queries y_j
    cost_x = (margin - positive.unsqueeze(0) + scores).clamp(min=0)  # y_j queries x_i
    if labels is None:
        negative = ~torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    else:
        negative = labels.unsqueeze(1) != labels.unsqueeze(0)
    negative = negative.to(scores.dtype)
    return ((cost_y + cost_x) * negative).sum() / scores.shape[0]
