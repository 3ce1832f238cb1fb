"""Dynascore: one number ranking models on several metrics, as Dynabench defines it.

Each model's metrics are first averaged over the task's scoring datasets
(weighted by each dataset's ``weight``: the leaderboard does that). Then, over
the models that have every value:

1. every metric is made "higher is better": ``direction * value + offset``
   (memory: ``-1 * MB + the task's memory limit``; the others: ``+1``, offset 0);
2. the models are ordered by the main metric, and for each metric its average
   marginal rate of substitution against the main metric is taken along that
   order: ``AMRS(m) = mean(|Δm| / Δmain)`` over consecutive models whose main
   metric differs by more than ``DELTA_CUTOFF`` of its largest value;
3. ``dynascore = Σ w(m) / Σ w × value(m) / AMRS(m)``: each metric expressed in
   units of the main metric, then weighted (the main metric's own AMRS is 1).

Where Dynabench's arithmetic would give NaN or infinity, this gives a number:
with fewer than two models apart on the main metric no rate can be measured,
so every AMRS is 1; a metric whose AMRS is 0 (the same for every model) adds
nothing, since it tells no model apart.
"""

THROUGHPUT = "examples_per_second"
MEMORY = "peak_memory_mb"
DELTA_CUTOFF = 0.0001
MAIN_WEIGHT = 4
OTHER_WEIGHT = 1
MAX_WEIGHT = 1000


class BadWeights(ValueError):
    """Raised for a ``weights`` text that does not parse; the message says what is wrong."""


def metric_names(main, others):
    """The metrics a Dynascore weighs, in the order the leaderboard shows them."""
    return [main, *others, THROUGHPUT, MEMORY]


def default_weights(main, others):
    return {name: (MAIN_WEIGHT if name == main else OTHER_WEIGHT) for name in metric_names(main, others)}


def parse_weights(text, defaults):
    """``"accuracy:4,examples_per_second:1"`` over ``defaults`` (the names not given keep theirs)."""
    weights = dict(defaults)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, colon, value = item.partition(":")
        name = name.strip()
        if not colon or name not in weights:
            raise BadWeights(f"weights: {item!r} is not NAME:NUMBER with NAME one of {', '.join(defaults)}")
        try:
            number = float(value)
        except ValueError:
            raise BadWeights(f"weights: {name} = {value.strip()!r} is not a number") from None
        if not 0 <= number <= MAX_WEIGHT:
            raise BadWeights(f"weights: {name} = {value.strip()}: use a number from 0 to {MAX_WEIGHT}")
        weights[name] = number
    if not any(weights.values()):
        raise BadWeights("weights: at least one weight must be above 0")
    return weights


def format_weights(weights):
    """The text ``parse_weights`` reads back."""
    return ",".join(f"{name}:{value:g}" for name, value in weights.items())


def directions_and_offsets(main, others, memory_limit_mb):
    """Dynabench's utility directions and offsets: memory is better lower, below the task's limit."""
    directions = {name: 1 for name in metric_names(main, others)}
    offsets = {name: 0.0 for name in directions}
    directions[MEMORY], offsets[MEMORY] = -1, float(memory_limit_mb)
    return directions, offsets


def rates(points, main, directions, offsets):
    """{metric: AMRS} over ``points`` (dicts of every metric, the models' averages)."""
    converted = [{name: directions[name] * point[name] + offsets[name] for name in directions} for point in points]
    converted.sort(key=lambda point: point[main])
    if not converted:
        return {name: 1.0 for name in directions}
    threshold = abs(max(point[main] for point in converted)) * DELTA_CUTOFF
    steps = [(before, after) for before, after in zip(converted, converted[1:])
             if after[main] - before[main] > threshold]
    if not steps:
        return {name: 1.0 for name in directions}
    return {name: sum(abs(after[name] - before[name]) / (after[main] - before[main]) for before, after in steps)
            / len(steps) for name in directions}


def terms(point, directions, offsets, amrs):
    """{metric: value / AMRS} of one model: its metrics in units of the main metric (0: tells none apart)."""
    return {name: (directions[name] * point[name] + offsets[name]) / amrs[name] if amrs[name] else 0.0
            for name in directions}


def dynascores(points, main, weights, directions, offsets):
    """The Dynascore of each of ``points`` (None for a model without every value: it has none),
    and its ``terms`` (None likewise), which the page's live weights sum again."""
    amrs = rates([point for point in points if point is not None], main, directions, offsets)
    total = sum(weights.values())
    results = []
    for point in points:
        if point is None:
            results.append((None, None))
            continue
        parts = terms(point, directions, offsets, amrs)
        results.append((sum(weights.get(name, 0) / total * value for name, value in parts.items()), parts))
    return results
