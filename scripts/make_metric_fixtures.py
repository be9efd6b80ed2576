#!/usr/bin/env python3
"""Reference values from scikit-learn for LoRAKit's evaluation metrics (Training/Metrics).

    pip install scikit-learn      # numpy too; tests never need Python
    python3 scripts/make_metric_fixtures.py

Writes three small JSON files under Tests/TrainingTests/Fixtures/:

- metrics_classification.json: predictions, labels and (optionally) scores, with sklearn's
  accuracy, confusion matrix, per-class and macro precision/recall/F1 (zero_division=0,
  labels=range(C)), quadratic weighted kappa (labels=range(C)), top-k accuracy and ROC-AUC.
- metrics_logits.json: float32 logits and labels (some -100, ignored) as the accumulating
  metrics see them, with the values each should report: predictions are numpy's argmax (first
  maximum), probabilities a float64 softmax of the float32 logits, a single logit column z is the
  two-class row [0, z].
- metrics_loss.json: batch losses and sizes with their weighted mean and perplexity.

Every case is seeded. Scores are multiples of 1/8 (or 1/4 for logits) so that ties are frequent
and exact in binary floating point. Undefined values (AUC of a class with no positives or no
negatives, kappa with no expected disagreement) are written as null; LoRAKit returns nil there.
LoRAKit's macro ROC-AUC averages the classes where AUC is defined, so the expected macro is the
mean of sklearn's per-class `roc_auc_score` over those classes; when every class is defined the
script asserts that this equals `roc_auc_score(multi_class="ovr", average="macro")`.
"""
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, cohen_kappa_score, confusion_matrix,
                             precision_recall_fscore_support, roc_auc_score, top_k_accuracy_score)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "TrainingTests", "Fixtures")
IGNORE = -100

warnings.simplefilter("ignore", UndefinedMetricWarning)


def auc_or_none(y, s):
    """sklearn's binary ROC-AUC, or None where it is undefined (sklearn: nan and a warning)."""
    y = np.asarray(y)
    if y.min() == y.max():
        return None
    v = roc_auc_score(y, s)
    assert not math.isnan(v)
    return float(v)


def kappa_or_none(a, b, classes):
    v = cohen_kappa_score(a, b, labels=list(range(classes)), weights="quadratic")
    return None if math.isnan(v) else float(v)


def ovr(labels, scores, classes):
    """Per-class one-vs-rest AUC and the macro over the defined classes."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    per = [auc_or_none((labels == c).astype(int), scores[:, c]) for c in range(classes)]
    defined = [v for v in per if v is not None]
    macro = float(np.mean(defined)) if defined else None
    if None not in per and np.allclose(scores.sum(axis=1), 1):
        ref = roc_auc_score(labels, scores, multi_class="ovr", average="macro", labels=list(range(classes)))
        assert abs(ref - macro) < 1e-12, (ref, macro)
    return per, macro


def classification_expected(labels, predictions, classes):
    labels_range = list(range(classes))
    p, r, f, s = precision_recall_fscore_support(labels, predictions, labels=labels_range,
                                                 zero_division=0, average=None)
    mp, mr, mf, _ = precision_recall_fscore_support(labels, predictions, labels=labels_range,
                                                    zero_division=0, average="macro")
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "confusion": confusion_matrix(labels, predictions, labels=labels_range).tolist(),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
        "macro_precision": float(mp), "macro_recall": float(mr), "macro_f1": float(mf),
        "qwk": kappa_or_none(labels, predictions, classes),
    }


def simplex_scores(rng, n, classes, parts=8):
    """Rows of multiples of 1/parts summing exactly to 1: many ties, exact in binary."""
    return rng.multinomial(parts, [1 / classes] * classes, size=n) / parts


def classification_case(name, labels, predictions, classes, scores=None, ks=()):
    case = {"name": name, "classes": classes, "labels": list(map(int, labels)),
            "predictions": list(map(int, predictions))}
    expected = classification_expected(labels, predictions, classes)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 1:  # binary: score of the positive class 1
            case["binary_scores"] = scores.tolist()
            expected["roc_auc"] = auc_or_none(labels, scores)
        else:
            case["scores"] = scores.tolist()
            per, macro = ovr(labels, scores, classes)
            expected["roc_auc_per_class"] = per
            expected["roc_auc_macro"] = macro
            expected["top_k"] = {str(k): float(top_k_accuracy_score(labels, scores, k=k, labels=list(range(classes))))
                                 for k in ks}
    case["expected"] = expected
    return case


def classification_cases():
    rng = np.random.default_rng(20261129)
    cases = []

    # Binary, random, with tied scores.
    n = 40
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 9, n) / 8
    pred = (s > 0.5).astype(int)
    cases.append(classification_case("binary_random_ties", y, pred, 2, scores=s))

    # Multi-class with many ties in the scores; predictions independent of the scores.
    n, c = 30, 4
    y = rng.integers(0, c, n)
    s = simplex_scores(rng, n, c)
    pred = rng.integers(0, c, n)
    cases.append(classification_case("multiclass_ties", y, pred, c, scores=s, ks=(1, 2, 3, 4)))

    # Multi-class, predictions from the scores (numpy argmax: first maximum).
    n, c = 25, 3
    y = rng.integers(0, c, n)
    s = simplex_scores(rng, n, c)
    cases.append(classification_case("multiclass_argmax", y, s.argmax(axis=1), c, scores=s, ks=(1, 2)))

    # Class 3 of 5 never occurs, neither in labels nor predictions (AUC undefined for it).
    n, c = 30, 5
    y = rng.choice([0, 1, 2, 4], n)
    pred = np.where(rng.random(n) < 0.6, y, rng.choice([0, 1, 2, 4], n))
    s = simplex_scores(rng, n, c)
    cases.append(classification_case("absent_class", y, pred, c, scores=s, ks=(1, 3)))

    # Class 2 of 4 is predicted but never a label; class 0 is a label but never predicted.
    n, c = 20, 4
    y = rng.choice([0, 1, 3], n)
    pred = rng.choice([1, 2, 3], n)
    cases.append(classification_case("predicted_only_class", y, pred, c))

    # Perfect predictions and scores.
    n, c = 12, 3
    y = np.arange(n) % c
    s = np.full((n, c), 0.125)
    s[np.arange(n), y] = 0.75
    cases.append(classification_case("perfect", y, y, c, scores=s, ks=(1, 2)))
    yb = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    cases.append(classification_case("perfect_binary", yb, yb, 2, scores=yb * 0.5 + 0.25))

    # Worst: always wrong, scores reversed (AUC 0), grades as far off as possible.
    cases.append(classification_case("worst_binary", yb, 1 - yb, 2, scores=(1 - yb) * 0.5 + 0.25))
    g = np.array([0, 0, 1, 3, 4, 4, 2, 3])
    cases.append(classification_case("worst_grades", g, 4 - g, 5))

    # Few samples.
    cases.append(classification_case("few_samples", [2, 0, 1], [2, 1, 1], 3,
                                     scores=[[0.25, 0.25, 0.5], [0.5, 0.5, 0.0], [0.125, 0.5, 0.375]],
                                     ks=(1, 2)))
    cases.append(classification_case("one_sample", [1], [1], 2, scores=[0.75]))

    # Retinopathy-like grading: 5 grades, skewed towards 0, grade 3 absent from both sides,
    # predictions mostly within one grade.
    n, c = 50, 5
    y = rng.choice([0, 1, 2, 4], n, p=[0.5, 0.2, 0.2, 0.1])
    pred = np.clip(y + rng.choice([-1, 0, 0, 0, 1], n), 0, 4)
    pred[pred == 3] = 2
    cases.append(classification_case("grading_absent_grade", y, pred, c))

    # Kappa undefined: every label and prediction is the same class.
    cases.append(classification_case("single_class", [1, 1, 1, 1], [1, 1, 1, 1], 3))
    return cases


def softmax64(logits):
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def logits_case(name, logits, labels, ks=()):
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels)
    rows = logits.reshape(len(labels), -1).astype(np.float64)
    two = rows if rows.shape[1] > 1 else np.concatenate([np.zeros_like(rows), rows], axis=1)
    c = two.shape[1]
    keep = labels != IGNORE
    y, x = labels[keep], two[keep]
    pred = x.argmax(axis=1)
    p = softmax64(x)
    expected = classification_expected(y, pred, c)
    if c == 2:
        expected["roc_auc"] = auc_or_none(y, p[:, 1])
    else:
        expected["roc_auc"] = ovr(y, p, c)[1]
        expected["top_k"] = {str(k): float(top_k_accuracy_score(y, x, k=k, labels=list(range(c)))) for k in ks}
    m = x.max(axis=1, keepdims=True)
    log_p = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(len(y)), y]
    expected["perplexity"] = float(np.exp(nll.mean()))
    return {"name": name, "shape": list(logits.shape), "logits": logits.astype(np.float64).ravel().tolist(),
            "labels": labels.tolist(), "expected": expected}


def logits_cases():
    rng = np.random.default_rng(7)
    cases = []
    n, c = 24, 4
    logits = rng.integers(-8, 9, (n, c)) / 4  # multiples of 1/4: ties within rows and across rows
    labels = rng.integers(0, c, n)
    labels[[3, 10]] = IGNORE
    cases.append(logits_case("multiclass_ties_ignored", logits, labels, ks=(1, 2, 3)))

    n, c = 20, 2
    labels = rng.integers(0, 2, n)
    cases.append(logits_case("binary_two_columns", rng.integers(-8, 9, (n, c)) / 4, labels))

    labels = rng.integers(0, 2, 16)
    cases.append(logits_case("binary_single_logit", rng.integers(-6, 7, (16, 1)) / 4, labels))

    # Token-level [B, T, C] logits, flattened by the metrics.
    b, t, c = 2, 5, 6
    logits = rng.normal(0, 2, (b, t, c))
    labels = rng.integers(0, c, b * t)
    labels[-2:] = IGNORE
    cases.append(logits_case("tokens_rank3", logits, labels, ks=(1, 5)))
    return cases


def loss_cases():
    rng = np.random.default_rng(11)
    cases = []
    for name, n in [("batches", 7), ("one_batch", 1)]:
        losses = rng.uniform(0.5, 4.0, n)
        sizes = rng.integers(1, 33, n)
        mean = float(np.average(losses, weights=sizes))
        cases.append({"name": name, "losses": losses.tolist(), "sizes": sizes.tolist(),
                      "mean": mean, "perplexity": float(np.exp(mean))})
    losses = [2.0, 9.0, 1.0]
    sizes = [3, 0, 1]  # an empty batch has no weight
    mean = float(np.average(losses, weights=sizes))
    cases.append({"name": "empty_batch", "losses": losses, "sizes": sizes, "mean": mean,
                  "perplexity": float(np.exp(mean))})
    return cases


def write(name, cases):
    path = os.path.join(OUT, name)
    doc = {"generator": "scripts/make_metric_fixtures.py", "sklearn": sklearn.__version__,
           "numpy": np.__version__, "cases": cases}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write("metrics_classification.json", classification_cases())
    write("metrics_logits.json", logits_cases())
    write("metrics_loss.json", loss_cases())
