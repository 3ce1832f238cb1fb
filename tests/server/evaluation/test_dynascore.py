"""Dynascore by hand: Dynabench's formula on three models, worked out on paper."""

import pytest

from dynalab.server.evaluation import dynascore as ds

MAIN, OTHERS = "accuracy", []
DIRECTIONS, OFFSETS = ds.directions_and_offsets(MAIN, OTHERS, memory_limit_mb=1000)
# Sorted by accuracy: Δaccuracy 0.1 then 0.2, |Δthroughput| 100 then 100, so AMRS(throughput) =
# mean(100 / 0.1, 100 / 0.2) = 750; memory is the same for all (AMRS 0: it adds nothing).
MODELS = [{"accuracy": 0.6, "examples_per_second": 300, "peak_memory_mb": 100},
          {"accuracy": 0.9, "examples_per_second": 100, "peak_memory_mb": 100},
          {"accuracy": 0.7, "examples_per_second": 200, "peak_memory_mb": 100}]


def scores(weights, models=MODELS):
    return [score for score, _ in ds.dynascores(models, MAIN, weights, DIRECTIONS, OFFSETS)]


def test_the_default_weights_give_the_hand_computed_scores():
    assert ds.rates(MODELS, MAIN, DIRECTIONS, OFFSETS) == pytest.approx(
        {"accuracy": 1.0, "examples_per_second": 750.0, "peak_memory_mb": 0.0})
    weights = ds.default_weights(MAIN, OTHERS)
    assert weights == {"accuracy": 4, "examples_per_second": 1, "peak_memory_mb": 1}
    assert scores(weights) == pytest.approx([4 / 6 * 0.6 + 1 / 6 * 300 / 750,
                                             4 / 6 * 0.9 + 1 / 6 * 100 / 750,
                                             4 / 6 * 0.7 + 1 / 6 * 200 / 750])


def test_weight_moved_to_throughput_puts_the_fastest_first():
    fast, accurate, middle = scores({"accuracy": 1, "examples_per_second": 5, "peak_memory_mb": 0})
    assert fast > middle > accurate
    assert fast == pytest.approx(0.6 / 6 + 5 / 6 * 300 / 750)


def test_memory_is_better_lower_and_a_model_without_every_value_has_no_score():
    lighter = [dict(MODELS[0], peak_memory_mb=50), MODELS[1], None]
    first, second, missing = scores({"accuracy": 1, "examples_per_second": 0, "peak_memory_mb": 1}, lighter)
    assert missing is None
    # Δaccuracy 0.3, |Δ(1000 - memory)| 50: AMRS(memory) = 50 / 0.3.
    assert first == pytest.approx(0.6 / 2 + (1000 - 50) / (50 / 0.3) / 2)
    assert second == pytest.approx(0.9 / 2 + (1000 - 100) / (50 / 0.3) / 2)


def test_one_model_alone_gets_rates_of_one():
    [(score, terms)] = ds.dynascores([MODELS[0]], MAIN, ds.default_weights(MAIN, OTHERS), DIRECTIONS, OFFSETS)
    assert terms == {"accuracy": 0.6, "examples_per_second": 300, "peak_memory_mb": 900}
    assert score == pytest.approx((4 * 0.6 + 300 + 900) / 6)


@pytest.mark.parametrize("text, problem", [
    ("speed:1", "'speed:1' is not NAME:NUMBER"), ("accuracy:x", "accuracy = 'x' is not a number"),
    ("accuracy:-1", "use a number from 0 to 1000"),
    ("accuracy:0,examples_per_second:0,peak_memory_mb:0", "at least one weight must be above 0")])
def test_bad_weights_say_what_is_wrong(text, problem):
    with pytest.raises(ds.BadWeights, match=problem):
        ds.parse_weights(text, ds.default_weights(MAIN, OTHERS))


def test_weights_read_back_what_they_print_and_keep_defaults_for_names_not_given():
    weights = ds.parse_weights("examples_per_second:2.5", ds.default_weights(MAIN, OTHERS))
    assert weights == {"accuracy": 4, "examples_per_second": 2.5, "peak_memory_mb": 1}
    assert ds.parse_weights(ds.format_weights(weights), ds.default_weights(MAIN, OTHERS)) == weights
