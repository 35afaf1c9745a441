#!/usr/bin/env python3
"""Train the livedigits CNN and write the shipped model, model card and report pictures.

    python train.py                      # full run into models/ (MNIST from $LIVEDIGITS_MNIST or download)
    python train.py --data ../shared/data/mnist --quick --out /tmp/quick
    python train.py --arch mlp --out runs/mlp   # the tutorial baseline, for comparison
    python train.py --export-only        # re-export models/digits.keras to TFLite, update the card
    python train.py strings --minutes 50 # the digit-string reader (models/strings.tflite)
    python train.py pack                 # both networks' data, for a GPU machine (livedigits/training/gpu.py)
    python train.py --from-gpu W.npz     # export and evaluate weights trained there
    python train.py blend A.keras B.keras --alpha 0.8 --out C.keras   # a weight-space blend of two networks
    python train.py --export-only --out runs/soup --mix-cache runs/mix.npz   # export a blend, write its card
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _source(value: str) -> tuple[str, str]:
    """NAME=PATH of --source, checked (an unknown name or a missing path is a one-line error)."""
    from livedigits.training.realdata import SOURCE_LOCATIONS

    name, _, path = value.partition("=")
    if name not in SOURCE_LOCATIONS or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH with NAME one of {', '.join(SOURCE_LOCATIONS)}")
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"source {name}: {path} does not exist")
    return name, path


def pack(argv) -> int:
    """``train.py pack``: what ``python -m livedigits.training.gpu`` trains on, into one folder."""
    from pathlib import Path

    from livedigits.training.data import DataError, add_mnist_option, load_mnist_for
    from livedigits.training.loop import TrainConfig, pack_for_gpu
    from livedigits.training.realdata import shared_data_paths, source_paths
    from livedigits.training.strings import pack_ingredients

    parser = argparse.ArgumentParser(prog="train.py pack", description=pack.__doc__)
    add_mnist_option(parser, "--data")
    parser.add_argument("--out", default="runs/gpu", help="output folder (default: runs/gpu)")
    parser.add_argument("--mix-cache", metavar="FILE", help="the normalised real-data mix (.npz), reused when it exists")
    parser.add_argument("--printed", type=int, default=3000, help="printed digit strings to render here")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        digits = pack_for_gpu(TrainConfig(data=args.data, mix_cache=args.mix_cache), out / "digits_data.npz")
        print(f"pack: digits: {digits}", file=sys.stderr)
        training, realworld = shared_data_paths(args.data)
        paths = source_paths(training, realworld)
        strings = pack_ingredients(load_mnist_for(parser, args.data), paths, paths["cheque"], args.printed, 1,
                                   out / "strings_ingredients.npz")
    except (DataError, FileNotFoundError) as err:
        print(f"train.py pack: error: {err}", file=sys.stderr)
        return 2
    print(f"pack: strings: {strings}; wrote {out}/", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pack"]:  # the training data of both networks, for gpu.py on a GPU machine
        return pack(argv[1:])
    if argv[:1] == ["blend"]:  # two networks of one architecture, blended weight by weight
        from livedigits.training.blend import main as blend

        return blend(argv[1:])
    if argv[:1] == ["strings"]:  # the digit-string reader: its own options
        from livedigits.training.strings import main as train_strings

        return train_strings(argv[1:])
    from livedigits.training.data import DataError, require_files
    from livedigits.training.loop import TrainConfig, reexport, train
    from livedigits.training.realdata import SOURCE_LOCATIONS

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="MNIST folder (4 IDX .gz files) or mnist.npz; default $LIVEDIGITS_MNIST, else download")
    parser.add_argument("--out", default=defaults.out_dir, help="output folder (default: models)")
    parser.add_argument("--arch", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch: a smoke test")
    parser.add_argument("--no-baseline", action="store_true", help="skip training the MLP baseline")
    parser.add_argument("--training-data", metavar="PATH", help="extra training sources (pen digits, sudoku cells, letters); "
                        "default $LIVEDIGITS_TRAINING, else training/ beside the MNIST folder")
    parser.add_argument("--realworld", metavar="PATH", help="real-world sources (USPS, cheque digits, sudoku photos); "
                        "default $LIVEDIGITS_REALWORLD, else realworld/ beside the MNIST folder")
    parser.add_argument("--source", metavar="NAME=PATH", action="append", default=[], type=_source,
                        help="where one source lies, if not in its folder above (repeatable); NAME one of "
                             + ", ".join(SOURCE_LOCATIONS))
    parser.add_argument("--mnist-only", action="store_true", help="train on MNIST and synthetic non-digits only")
    parser.add_argument("--mix-cache", metavar="FILE", help="keep the normalised real-data mix in this .npz and reuse it")
    parser.add_argument("--init", metavar="MODEL", help="start from the weights of this .keras model (fine-tuning)")
    parser.add_argument("--distill-from", metavar="MODEL", help="a .keras teacher (e.g. an MNIST-only model): its softened "
                        "outputs make --distill-share of MNIST's targets, the labels the rest")
    parser.add_argument("--distill-share", type=float, default=0.5, help="share of MNIST's targets that is the teacher's (default 0.5)")
    parser.add_argument("--from-gpu", metavar="WEIGHTS", help="no training here: weights from "
                        "`python -m livedigits.training.gpu digits` (same data: `train.py pack`), exported and evaluated")
    parser.add_argument("--export-only", action="store_true",
                        help="no training: export OUT/digits.keras to TFLite again and update the model card")
    args = parser.parse_args(argv)
    require_files(parser, init=args.init, distill_from=args.distill_from)
    if not 0.0 <= args.distill_share <= 1.0:
        parser.error("--distill-share must be between 0 and 1")
    if args.export_only:
        step, summary = (lambda: reexport(args.out, args.data, args.seed, args.mix_cache)), "re-exported: tflite {tflite} % on the MNIST test set"
    else:
        config = TrainConfig(out_dir=args.out, data=args.data, arch=args.arch, epochs=args.epochs,
                             batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience,
                             seed=args.seed, quick=args.quick, baseline=not args.no_baseline,
                             training_data=args.training_data, realworld=args.realworld, real_mix=not args.mnist_only,
                             mix_cache=args.mix_cache, init=args.init, sources=dict(args.source),
                             from_gpu=args.from_gpu, distill_from=args.distill_from,
                             distill_share=args.distill_share)
        step, summary = (lambda: train(config)), "test accuracy: keras {keras} %, tflite {tflite} %"
    try:
        test = step()["test"]
    except (DataError, FileNotFoundError) as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    print(summary.format(keras=f"{100 * test['keras_accuracy']:.2f}", tflite=f"{100 * test['tflite_accuracy']:.2f}")
          + f", agreement with keras {100 * test['tflite_keras_agreement']:.2f} %; wrote {args.out}/")
    return 0

if __name__ == "__main__":
    sys.exit(main())
