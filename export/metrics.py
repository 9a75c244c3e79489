"""The figures every model is judged by."""

from collections.abc import Sequence

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


def scores(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Macro figures average over the labels that occur in either sequence (a file with four of the seven
    emotions is not marked down for the three it lacks, unless the model predicts them)."""
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "macro_recall": round(float(recall_score(truth, predicted, average="macro", zero_division=0)), 4),
    }


def confusion(truth: Sequence[int], predicted: Sequence[int], n_labels: int) -> list[list[int]]:
    return [[int(x) for x in row] for row in confusion_matrix(truth, predicted, labels=list(range(n_labels)))]
