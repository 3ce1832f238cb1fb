"""Known answers for every metric: each value is worked out by hand in the test (or is the
reference implementation's documented behaviour), including empty and all-wrong cases."""

import math

import pytest

from dynalab.server.evaluation.metrics import METRICS, SCORED_TYPES, compute, squad_normalise, vqa_normalise
from dynalab.tasks.registry import load_builtin
from dynalab.tasks.validation import METRICS as METRIC_NAMES

NLI, QA, VQA, FLORES = (load_builtin(code) for code in ("nli", "qa", "vqa", "flores_small1"))


def labels(*values):
    """Responses (or None: no response) and gold targets of the nli task, from labels."""
    return [None if value is None else {"label": value} for value in values]


def answers(*values, field="answer"):
    return [None if value is None else {field: value} for value in values]


def test_every_metric_a_definition_may_name_is_implemented():
    assert set(METRICS) == set(SCORED_TYPES) == set(METRIC_NAMES)


# ---- accuracy and macro_f1 ----

def test_accuracy_is_the_share_of_right_labels():
    predicted = labels("entailed", "neutral", "contradictory", "neutral")
    gold = labels("entailed", "neutral", "contradictory", "entailed")
    assert compute(["accuracy"], NLI, predicted, gold) == {"accuracy": 0.75}


def test_all_wrong_scores_zero():
    predicted = labels("neutral", "neutral")
    gold = labels("entailed", "contradictory")
    assert compute(["accuracy", "macro_f1"], NLI, predicted, gold) == {"accuracy": 0.0, "macro_f1": 0.0}


def test_a_class_never_predicted_counts_with_f1_zero():
    # entailed: TP 1, FP 0, FN 0 -> F1 1. neutral: TP 1, FP 2, FN 0 -> 2/(2+2) = 0.5.
    # contradictory: never predicted, TP 0, FN 2 -> 0. Mean: 1.5 / 3 = 0.5.
    predicted = labels("entailed", "neutral", "neutral", "neutral")
    gold = labels("entailed", "neutral", "contradictory", "contradictory")
    scores = compute(["accuracy", "macro_f1"], NLI, predicted, gold)
    assert scores["accuracy"] == 0.5
    assert math.isclose(scores["macro_f1"], 0.5)


def test_macro_f1_leaves_out_a_label_neither_in_the_gold_targets_nor_predicted():
    # No contradictory example and none predicted: its F1 is 0/0, so a perfect model scores 1, not 2/3.
    assert compute(["macro_f1"], NLI, labels("entailed", "neutral"), labels("entailed", "neutral")) == {"macro_f1": 1.0}
    # entailed: TP 1, FP 1, FN 0 -> 2/3; neutral: TP 0, FN 1 -> 0. Mean 1/3.
    scores = compute(["macro_f1"], NLI, labels("entailed", "entailed"), labels("entailed", "neutral"))
    assert math.isclose(scores["macro_f1"], 1 / 3)


def test_a_missing_prediction_is_wrong_and_no_class_of_its_own():
    # Example 2 has no response (and example 3 a response without a label): both wrong.
    # entailed: TP 1 -> F1 1; neutral: FN 1 -> 0; contradictory: FN 1 -> 0. The missing
    # predictions add no false positive anywhere: macro F1 = 1/3.
    predicted = [{"label": "entailed"}, None, {"prob": {}}]
    gold = labels("entailed", "neutral", "contradictory")
    scores = compute(["accuracy", "macro_f1"], NLI, predicted, gold)
    assert math.isclose(scores["accuracy"], 1 / 3)
    assert math.isclose(scores["macro_f1"], 1 / 3)


def test_no_examples_is_an_error_not_a_score():
    with pytest.raises(ValueError, match="no examples"):
        compute(["accuracy"], NLI, [], [])
    with pytest.raises(ValueError, match="2 predictions for 1 examples"):
        compute(["accuracy"], NLI, labels("neutral", "neutral"), labels("neutral"))


# ---- exact_match and squad_f1 (SQuAD v1.1) ----

def test_squad_normalisation_lowers_and_drops_punctuation_articles_and_extra_spaces():
    assert squad_normalise("  The Denver  Broncos!") == "denver broncos"
    assert squad_normalise("an apple, a pear") == "apple pear"
    assert squad_normalise("theory") == "theory"  # an article only as a whole word


def test_exact_match_and_f1_take_the_best_accepted_answer():
    gold = answers(["Denver Broncos", "The Broncos"], "Santa Clara, California", "1990")
    predicted = answers("the broncos", "Santa Clara", "in 1990 or so")
    scores = compute(["exact_match", "squad_f1"], QA, predicted, gold)
    # Example 1 matches its second answer exactly; the others do not.
    assert math.isclose(scores["exact_match"], 1 / 3)
    # F1: 1; "santa clara" vs "santa clara california": P 2/2, R 2/3 -> 0.8;
    # "in 1990 or so" vs "1990": P 1/4, R 1 -> 0.4. Mean (1 + 0.8 + 0.4) / 3.
    assert math.isclose(scores["squad_f1"], (1 + 0.8 + 0.4) / 3)


def test_squad_all_wrong_empty_and_missing_predictions():
    gold = answers("Denver Broncos", "the", "Paris")
    # "" against "the": both normalise to "", equal for exact match (as in the official
    # script) but F1 0 (no common token). No response for "Paris": 0 for both.
    predicted = answers("Carolina Panthers", "", None)
    assert compute(["exact_match", "squad_f1"], QA, predicted, gold) == {"exact_match": 1 / 3, "squad_f1": 0.0}


# ---- vqa_accuracy ----

def test_vqa_normalisation_follows_the_challenge():
    assert vqa_normalise("Two") == "2"
    assert vqa_normalise("the dog.") == "dog"
    assert vqa_normalise("dont know") == "don't know"
    assert vqa_normalise("1,000") == "1000"
    assert vqa_normalise("3.5") == "3.5"
    assert vqa_normalise("t-shirt") == "t shirt"
    assert vqa_normalise("red, white") == "red white"
    assert vqa_normalise(" Yes!\n") == "yes"


@pytest.mark.parametrize("agreeing, expected", [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_vqa_accuracy_averages_over_the_ten_ways_to_leave_an_annotator_out(agreeing, expected):
    # With k of 10 annotators agreeing: leaving out one of them leaves k-1 (k of the
    # 10 subsets), leaving out another leaves k (10-k subsets); each scores min(n/3, 1).
    # k=1: 9 * 1/3 / 10 = 0.3; k=2: (2 * 1/3 + 8 * 2/3) / 10 = 0.6; k=3: (3 * 2/3 + 7) / 10 = 0.9.
    references = ["yes"] * agreeing + ["no"] * (10 - agreeing)
    scores = compute(["vqa_accuracy"], VQA, answers("yes"), answers(references))
    assert math.isclose(scores["vqa_accuracy"], expected)


def test_vqa_accuracy_compares_normalised_answers_and_a_missing_one_scores_zero():
    references = ["2", "2", "two", "Two.", "3", "3", "3", "3", "3", "3"]  # four say 2, once normalised
    scores = compute(["vqa_accuracy"], VQA, answers("two", None), answers(references, references))
    assert math.isclose(scores["vqa_accuracy"], (1.0 + 0.0) / 2)


# ---- bleu (sacrebleu, tokenizer 13a) ----

def translations(*texts):
    return answers(*texts, field="translatedText")


def test_bleu_of_identical_translations_is_100_and_of_unrelated_ones_0():
    gold = translations("the cat sat on the mat", "a dog ran in the park")
    perfect = compute(["bleu"], FLORES, translations("the cat sat on the mat", "a dog ran in the park"), gold)
    assert math.isclose(perfect["bleu"], 100.0)
    assert compute(["bleu"], FLORES, translations("xx yy zz ww", "qq rr ss tt"), gold) == {"bleu": 0.0}


def test_bleu_by_hand():
    # Hypothesis "the cat sat on the mat", reference "the cat sat on a mat" (6 tokens each,
    # brevity penalty 1). Clipped n-gram precisions: 5/6, 3/5, 2/4, 1/3; BLEU is their
    # geometric mean: (5/6 * 3/5 * 1/2 * 1/3) ** (1/4) = (1/12) ** (1/4) = 0.5373.
    scores = compute(["bleu"], FLORES, translations("the cat sat on the mat"), translations("the cat sat on a mat"))
    assert math.isclose(scores["bleu"], 100 * (1 / 12) ** 0.25, rel_tol=1e-9)


def test_a_missing_translation_is_an_empty_one_not_left_out():
    # The first is perfect (6 tokens, every precision 1), the second missing (reference of 3
    # tokens): precisions stay 1, but the brevity penalty is exp(1 - 9/6) = 0.6065.
    gold = translations("the cat sat on the mat", "a dog ran")
    scores = compute(["bleu"], FLORES, translations("the cat sat on the mat", None), gold)
    assert math.isclose(scores["bleu"], 100 * math.exp(1 - 9 / 6), rel_tol=1e-9)
