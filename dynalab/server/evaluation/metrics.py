"""The metrics a task's definition names, computed from a model's predictions and gold targets.

``compute(names, definition, predictions, golds)`` gives ``{name: float}``; ``predictions``
and ``golds`` are parallel lists, one entry per example: the model's response (a dict, or
None when it gave none) and the example's gold targets (``{target field: gold}``). Each
metric reads one target field: the first of the task's targets whose type it scores
(``SCORED_TYPES``). A prediction that is missing, or lacks that field, counts as wrong.
Scores are fractions between 0 and 1, except ``bleu``, which is sacrebleu's 0-100.

scikit-learn and sacrebleu are imported when a metric needs them, so that the server and
its admin commands start without paying for them.
"""

import re
import string
from collections import Counter

from dynalab.tasks.task_io import TaskIO

# The annotation types of the target field each metric scores.
SCORED_TYPES = {
    "accuracy": ("multiclass",),
    "macro_f1": ("multiclass",),
    "exact_match": ("context_string_selection", "string"),
    "squad_f1": ("context_string_selection", "string"),
    "vqa_accuracy": ("string",),
    "bleu": ("string",),
}


def compute(names, definition, predictions, golds):
    """``{name: score}`` for each metric in ``names`` over the examples (see the module's docstring)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} examples")
    if not golds:
        raise ValueError("no examples to score")
    task_io = TaskIO.from_definition(definition)
    scores = {}
    for name in names:
        field = scored_field(name, task_io)
        if field is None:
            raise ValueError(f"task {task_io.task_code} has no target that {name} can score")
        predicted = [prediction.get(field) if isinstance(prediction, dict) else None for prediction in predictions]
        gold = [targets[field] for targets in golds]
        scores[name] = float(METRICS[name](predicted, gold, task_io.fields[field]))
    return scores


def scored_field(name, task_io):
    """The name of the target field metric ``name`` scores in ``task_io``'s task, or None."""
    for target in task_io.target_names:
        if task_io.fields[target]["type"] in SCORED_TYPES[name]:
            return target
    return None


def metric_problems(definition):
    """What is wrong with the metrics ``definition`` names, for the task's targets (empty: fine)."""
    metrics = definition.get("metrics")
    if not metrics:
        return []
    task_io = TaskIO.from_definition(definition)
    names = [metrics["main"], *metrics.get("others", [])]
    problems = []
    fields = {}
    for name in names:
        field = scored_field(name, task_io)
        if field is None:
            kinds = " or ".join(SCORED_TYPES[name])
            problems.append(f"metrics: {name} scores a {kinds} target and task {task_io.task_code} has none; "
                            "name a metric that fits its targets")
        fields.setdefault(field, []).append(name)
    for field, field_names in fields.items():
        if field is not None and "bleu" in field_names and "vqa_accuracy" in field_names:
            problems.append(f"metrics: bleu (one reference) and vqa_accuracy (a list of references) cannot "
                            f"both score {field}; keep one of them")
    return problems


def _label_indices(predicted, gold, labels):
    """Predictions and gold labels as indices into ``labels`` (scikit-learn is much faster on
    numbers than on strings); a missing prediction is -1, which no label has, so it is wrong
    (and a gold label the task no longer has, -2)."""
    import numpy

    index = {label: i for i, label in enumerate(labels)}
    return (numpy.array([index.get(p, -1) if isinstance(p, str) else -1 for p in predicted]),
            numpy.array([index.get(g, -2) for g in gold]))


def accuracy(predicted, gold, field):
    from sklearn.metrics import accuracy_score

    return accuracy_score(*reversed(_label_indices(predicted, gold, field["labels"])))


def macro_f1(predicted, gold, field):
    """The mean F1 over the task's labels that occur in the gold targets or the predictions.

    A label the model never predicts counts (its F1 is 0); a label neither in the gold
    targets nor predicted has no F1 (0/0) and is left out, as scikit-learn does by default,
    so that a dataset without examples of a label does not lower a perfect model's score.
    """
    from sklearn.metrics import f1_score

    predicted, gold = _label_indices(predicted, gold, field["labels"])
    labels = sorted((set(gold.tolist()) | set(predicted.tolist())) - {-1, -2})
    return f1_score(gold, predicted, labels=labels, average="macro", zero_division=0.0)


# ---- SQuAD v1.1 (the official evaluation script's normalisation and scores) ----

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalise(text):
    """Lower case, no punctuation, no articles (a, an, the), single spaces: SQuAD v1.1's ``normalize_answer``."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _answers(gold):
    """A SQuAD gold: one accepted answer, or a list of them."""
    return [gold] if isinstance(gold, str) else list(gold)


def _token_f1(prediction, answer):
    predicted, expected = squad_normalise(prediction).split(), squad_normalise(answer).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def exact_match(predicted, gold, field):
    """The share of predictions equal, once normalised, to one of their accepted answers."""
    return _mean_best(predicted, gold, lambda p, a: float(squad_normalise(p) == squad_normalise(a)))


def squad_f1(predicted, gold, field):
    """The mean over examples of the best token F1 between the prediction and an accepted answer."""
    return _mean_best(predicted, gold, _token_f1)


def _mean_best(predicted, gold, score):
    total = 0.0
    for prediction, answers in zip(predicted, gold):
        if isinstance(prediction, str):  # a missing prediction scores 0, even against an answer like "the"
            total += max(score(prediction, answer) for answer in _answers(answers))
    return total / len(gold)


# ---- VQA (the VQA challenge's evaluation: vqaEval.py of GT-Vision-Lab/VQA) ----

_VQA_PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
                    ",", "?", "!"]
_VQA_COMMA_IN_NUMBER = re.compile(r"(\d)(,)(\d)")
# As the official script writes it: "(?!<=" is a lookahead, so this strips every period
# not followed by a digit.
_VQA_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_VQA_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_VQA_ARTICLES = ("a", "an", "the")
# The official table, as it is (its capitalised keys never match: words are lower-cased first).
_VQA_CONTRACTIONS = dict(pair.split("=") for pair in """
    aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
    couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
    hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
    howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't itd=it'd
    itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
    mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
    neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
    'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
    shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
    somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll
    somebodys=somebody's someoned=someone'd someoned've=someone'd've someone'dve=someone'd've
    someonell=someone'll someones=someone's somethingd=something'd somethingd've=something'd've
    something'dve=something'd've somethingll=something'll thats=that's thered=there'd
    thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd
    theyd've=they'd've they'dve=they'd've theyll=they'll theyre=they're theyve=they've twas='twas
    wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've werent=weren't whatll=what'll
    whatre=what're whats=what's whatve=what've whens=when's whered=where'd wheres=where's
    whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's
    whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't
    wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll
    yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
    you'dve=you'd've youll=you'll youre=you're youve=you've
""".split())


def vqa_normalise(answer):
    """An answer as the VQA evaluation compares it: punctuation removed (or made a space),
    number words as digits, no articles, contractions restored, lower case."""
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    out = text
    for mark in _VQA_PUNCTUATION:
        if mark + " " in text or " " + mark in text or _VQA_COMMA_IN_NUMBER.search(text):
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    out = _VQA_PERIOD.sub("", out)
    words = [_VQA_NUMBERS.get(word, word) for word in out.lower().split()]
    return " ".join(_VQA_CONTRACTIONS.get(word, word) for word in words if word not in _VQA_ARTICLES)


def vqa_accuracy(predicted, gold, field):
    """VQA accuracy: per example, min(#references equal to the prediction / 3, 1) averaged over
    every way of leaving one reference out (the 10-choose-9 subsets for VQA's 10 answers).

    Both the prediction and the references are normalised (``vqa_normalise``). The official
    script normalises them only when the references disagree, relying on VQA's annotations
    being normalised already; references given to this server may not be.
    """
    total = 0.0
    for prediction, references in zip(predicted, gold):
        if not isinstance(prediction, str):
            continue
        answer = vqa_normalise(prediction)
        matches = [vqa_normalise(reference) == answer for reference in references]
        agreeing = sum(matches)
        # Leaving out reference i leaves agreeing - matches[i] references that agree.
        total += sum(min(1.0, (agreeing - left_out) / 3) for left_out in matches) / len(matches)
    return total / len(gold)


def bleu(predicted, gold, field):
    """sacrebleu's corpus BLEU (tokenizer 13a, one reference per example), 0-100; a missing
    prediction is an empty hypothesis."""
    import sacrebleu

    hypotheses = [p if isinstance(p, str) else "" for p in predicted]
    return sacrebleu.corpus_bleu(hypotheses, [list(gold)], tokenize="13a").score


METRICS = {
    "accuracy": accuracy,
    "macro_f1": macro_f1,
    "exact_match": exact_match,
    "squad_f1": squad_f1,
    "vqa_accuracy": vqa_accuracy,
    "bleu": bleu,
}
