"""A bag-of-words NLI classifier: small enough to train on a laptop CPU in seconds."""

import re

import torch
from torch import nn

TOKEN = re.compile(r"[a-z']+")


def tokenize(text):
    return TOKEN.findall(text.lower())


class BowNLI(nn.Module):
    """Premise and hypothesis as bags of words, plus the words only the hypothesis has."""

    def __init__(self, vocab_size, dim=32, num_labels=3):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, dim, mode="mean")
        self.classify = nn.Sequential(nn.Linear(3 * dim, dim), nn.ReLU(), nn.Linear(dim, num_labels))

    def forward(self, premise_ids, hypothesis_ids, novel_ids):
        parts = [self.embed(ids.unsqueeze(0)) for ids in (premise_ids, hypothesis_ids, novel_ids)]
        return self.classify(torch.cat(parts, dim=-1)).squeeze(0)


def encode(vocab, text):
    """Token ids of ``text``; unknown words map to 1, and an empty text to [0]."""
    ids = [vocab.get(token, 1) for token in tokenize(text)]
    return torch.tensor(ids or [0], dtype=torch.long)


def features(vocab, premise, hypothesis):
    premise_words = set(tokenize(premise))
    novel = " ".join(t for t in tokenize(hypothesis) if t not in premise_words)
    return encode(vocab, premise), encode(vocab, hypothesis), encode(vocab, novel)
