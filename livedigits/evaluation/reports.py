"""Pictures that show how good a model is: training curves, confusion matrix, misclassified grid."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt
    return plt


def training_curves_png(history: dict, path: Path, best_epoch: int | None = None) -> None:
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], "o-", label="train (augmented)")
        ax.plot(epochs, history[f"val_{key}"], "o-", label="validation")
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(truth, int), np.asarray(predicted, int)), 1)
    return matrix


def confusion_matrix_png(truth, predicted, path: Path, title: str = "MNIST test set",
                         labels: list[str] | None = None) -> None:
    plt = _pyplot()
    labels = labels or [str(d) for d in range(10)]
    matrix = confusion_matrix(truth, predicted, len(labels))
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            ax.text(col, row, str(count), ha="center", va="center", fontsize=8,
                    color="white" if row == col else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{title}: {matrix.sum()} digits, accuracy {100 * accuracy:.2f} %")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def misclassified_png(images, truth, predicted, probabilities, path: Path, limit: int = 48) -> None:
    plt = _pyplot()
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(truth))[:limit]
    cols = 8
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"true {truth[index]} got {predicted[index]}\n{probabilities[index][predicted[index]]:.2f}",
                     fontsize=7)
    fig.suptitle(f"{len(np.flatnonzero(np.asarray(predicted) != np.asarray(truth)))} test errors (first {len(wrong)} shown)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
