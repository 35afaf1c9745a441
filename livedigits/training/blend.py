"""Weight-space blends of two networks of one architecture (``python train.py blend``).

A network fine-tuned on new data (the real-data mix, new synthetic lines) and the network it was
fine-tuned from lie in one basin of the loss: the straight line between their weights holds
networks that keep much of both, and often beat both (Wortsman et al. 2022, "Robust fine-tuning
of zero-shot models", WiSE-FT); the mean of a run's late checkpoints is the same idea along one
run (Izmailov et al. 2018, stochastic weight averaging). The shipped string reader is such a blend:
the previous release's reader and the mean of a fine-tuning's last 8 checkpoints, half and half.

    python train.py blend FIRST.keras SECOND.keras --alpha 0.8 --out runs/blend/digits.keras
    python train.py blend runs/ft1/checkpoints/step00{6600,6900,7200,7500,7800,8100,8400,8644}.keras \
        --out runs/ft1/avg_late.keras            # without --alpha: the mean of the networks given
    python train.py blend models/strings.tflite runs/ft1/avg_late.keras --alpha 0.5 --out runs/b/strings.keras
    python train.py blend models/digits.keras runs/dd1/digits.keras runs/mnist_only.keras \
        --shares 0.45 0.45 0.10 --out runs/soup/digits.keras   # three networks at once

Each blend writes what it was made of beside it (``OUT.blend.json``: the networks and their shares),
which ``train.py --export-only`` copies into the model card.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np


def blend_weights(first: list[np.ndarray], second: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """(1 - alpha) * first + alpha * second, tensor by tensor (batch-norm statistics included)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], not {alpha}")
    return mean_weights([first, second], [1.0 - alpha, alpha])


def mean_weights(networks: list[list[np.ndarray]], shares: list[float] | None = None) -> list[np.ndarray]:
    """The networks' weights averaged tensor by tensor with these shares (default: equal)."""
    shares = np.full(len(networks), 1.0 / len(networks)) if shares is None else np.asarray(shares, float)
    first = networks[0]
    if any(len(other) != len(first) or any(a.shape != b.shape for a, b in zip(first, other)) for other in networks[1:]):
        raise ValueError("the networks differ in architecture: their weights cannot be blended")
    return [sum(share * network[i] for share, network in zip(shares, networks)).astype(first[i].dtype)
            for i in range(len(first))]


def blend_record_path(network: Path) -> Path:
    """Where ``train.py blend`` notes what a blended network was made of."""
    return network.with_name(network.name + ".blend.json")


def load_network(keras, path: Path):
    """A .keras model, or the Keras twin of a shipped string reader's .tflite (``train.py strings
    --init`` starts from either too)."""
    if path.suffix == ".tflite":
        from .strings import keras_from_tflite

        return keras_from_tflite(keras, path)
    return keras.models.load_model(path, compile=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="train.py blend", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+",
                        help=".keras models of one architecture (the first may be a string reader's .tflite)")
    parser.add_argument("--alpha", type=float,
                        help="with two models: the second one's share, 0-1 (default: the plain mean of all)")
    parser.add_argument("--shares", type=float, nargs="+", metavar="S",
                        help="one share per model, summing to 1 (default: equal shares)")
    parser.add_argument("--out", type=Path, required=True, help="the blend's .keras file")
    args = parser.parse_args(argv)
    if len(args.models) < 2 or (args.alpha is not None and len(args.models) != 2):
        parser.error("give two models with --alpha, or two or more to average")
    if args.shares is not None:
        if args.alpha is not None or len(args.shares) != len(args.models):
            parser.error("--shares needs one share per model, and no --alpha")
        if min(args.shares) < 0 or abs(sum(args.shares) - 1.0) > 1e-6:
            parser.error("--shares must be at least 0 each and sum to 1")
    for path in args.models:
        if not path.is_file():
            parser.error(f"{path} does not exist")
    import keras

    from .loop import save_without_optimizer

    try:
        networks = [load_network(keras, path) for path in args.models]
        weights = [network.get_weights() for network in networks]
        if args.alpha is not None:
            shares = [1.0 - args.alpha, args.alpha]
            blended = blend_weights(weights[0], weights[1], args.alpha)
        else:
            shares = args.shares or [1.0 / len(weights)] * len(weights)
            blended = mean_weights(weights, shares)
        networks[0].set_weights(blended)
    except ValueError as err:
        print(f"train.py blend: error: {err}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_without_optimizer(networks[0], args.out)  # as training saves: weights only, deflated
    record = {"networks": [str(path) for path in args.models], "shares": [round(float(s), 6) for s in shares]}
    made_of = {str(path): json.loads(blend_record_path(path).read_text())
               for path in args.models if blend_record_path(path).is_file()}
    if made_of:  # blends of blends keep their whole recipe
        record["blends"] = made_of
    blend_record_path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    told = ", ".join(f"{path.name} {share:.2f}" for path, share in zip(args.models, shares))
    print(f"blend: {told} -> {args.out}", file=sys.stderr)
    return 0
