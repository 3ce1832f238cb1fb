"""Train the example model and write model.pt and vocab.json.

The data are generated from templates (no download needed): a premise about a
person doing something; the hypothesis restates it (entailed), negates it or
swaps the activity (contradictory), or adds a detail the premise does not
give (neutral). Run: python train.py  (about 5 seconds on a CPU).
"""

import json
import random

import torch

from labels import LABELS
from src.nli_bow.model import BowNLI, features, tokenize

PEOPLE = ["a man", "a woman", "the child", "an old man", "two girls", "the teacher", "a dog", "the players"]
ACTIVITIES = ["playing guitar", "riding a bike", "eating lunch", "reading a book", "swimming in a lake",
              "running in the park", "cooking dinner", "painting a wall", "singing a song", "sleeping"]
PLACES = ["at night", "in the city", "with friends", "for money", "in the rain", "on a sunday"]


def make_examples(count, seed=0):
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        person, activity = rng.choice(PEOPLE), rng.choice(ACTIVITIES)
        premise = f"{person} is {activity}."
        kind = rng.choice(LABELS)
        if kind == "entailed":
            hypothesis = rng.choice([f"{person} is {activity}.", f"someone is {activity}.", f"{person} is busy {activity}."])
        elif kind == "contradictory":
            other = rng.choice([a for a in ACTIVITIES if a != activity])
            hypothesis = rng.choice([f"{person} is not {activity}.", f"{person} is {other}.", f"nobody is {activity}."])
        else:
            hypothesis = f"{person} is {activity} {rng.choice(PLACES)}."
        examples.append((premise, hypothesis, LABELS.index(kind)))
    return examples


def build_vocab(examples):
    words = sorted({t for premise, hypothesis, _ in examples for t in tokenize(premise + " " + hypothesis)})
    return {"<empty>": 0, "<unknown>": 1, **{word: i + 2 for i, word in enumerate(words)}}


def main():
    torch.manual_seed(0)
    train, held_out = make_examples(2000, seed=0), make_examples(300, seed=1)
    vocab = build_vocab(train)
    model = BowNLI(len(vocab), num_labels=len(LABELS))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(3):
        for premise, hypothesis, label in train:
            optimiser.zero_grad()
            loss = loss_fn(model(*features(vocab, premise, hypothesis)).unsqueeze(0), torch.tensor([label]))
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int(model(*features(vocab, p, h)).argmax()) == y for p, h, y in held_out)
    print(f"held-out accuracy: {correct / len(held_out):.3f}")
    torch.save(model.state_dict(), "model.pt")
    with open("vocab.json", "w") as f:
        json.dump(vocab, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
