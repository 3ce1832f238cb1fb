import yaml  # pyyaml: requirements.txt lists it

LABELS = yaml.safe_load("[entailed, neutral, contradictory]")


def label_of(hypothesis):
    return LABELS[len(hypothesis) % len(LABELS)]
