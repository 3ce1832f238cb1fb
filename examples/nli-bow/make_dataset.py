"""Write an evaluation dataset for the `nli` task, made by train.py's own generator.

    python make_dataset.py OUT.jsonl [--seed 2] [--count 500]

One example a line, as `dynalab-server add-dataset` reads them: `uid`, the
task's inputs (`context`, `hypothesis`) and its gold target (`label`). The
seed must not be one train.py uses (0 trains the model, 1 is its own
held-out check), so the examples are new to the model.
"""

import argparse
import json

from labels import LABELS
from train import make_examples

TRAIN_SEEDS = (0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .jsonl file to write")
    parser.add_argument("--seed", type=int, default=2, help="the generator's seed (not 0 or 1: train.py's)")
    parser.add_argument("--count", type=int, default=500, help="how many examples (default 500)")
    args = parser.parse_args()
    if args.seed in TRAIN_SEEDS:
        parser.error(f"seed {args.seed} is one train.py uses: pick another")
    with open(args.out, "w", encoding="utf-8") as out:
        for index, (premise, hypothesis, label) in enumerate(make_examples(args.count, seed=args.seed)):
            example = {"uid": f"seed{args.seed}-{index}", "context": premise, "hypothesis": hypothesis,
                       "label": LABELS[label]}
            out.write(json.dumps(example) + "\n")
    print(f"wrote {args.count} examples to {args.out}")


if __name__ == "__main__":
    main()
