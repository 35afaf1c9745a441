"""The digit CNN (Keras functional API) and the dense baseline of the classic tutorials.

Output: softmax over 11 classes, digits 0-9 then NOT_A_DIGIT ("not a single digit": pairs, pieces,
dashes, blobs), which the pipeline uses to reject candidates and to choose cuts of touching digits.
"""
from __future__ import annotations

from ..classify import NUM_CLASSES  # the output contract the runtime reads

INPUT_SHAPE = (28, 28, 1)


def build_cnn(num_classes: int = NUM_CLASSES, dropout: float = 0.3, width: int = 40):
    """Three blocks of width, 2x and 4x filters: with width 40, ~0.5 M parameters and ~24 M
    multiply-adds per digit, inside the 25 M budget that keeps 40 digits per frame real-time."""
    import keras
    from keras import layers

    def conv(x, filters, kernel=3, strides=1, padding="valid"):
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # settles within a short --quick run too
        return layers.ReLU()(x)

    inputs = keras.Input(INPUT_SHAPE, name="digit")
    x = conv(inputs, width)                                    # 26x26
    x = conv(x, width)                                         # 24x24
    x = conv(x, width, kernel=5, strides=2, padding="same")    # 12x12: learned downsampling
    x = layers.Dropout(dropout)(x)
    x = conv(x, 2 * width)                                     # 10x10
    x = conv(x, 2 * width)                                     # 8x8
    x = conv(x, 2 * width, kernel=5, strides=2, padding="same")  # 4x4
    x = layers.Dropout(dropout)(x)
    x = conv(x, 4 * width, kernel=4)                           # 1x1
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="livedigits_cnn")


def build_mlp(num_classes: int = NUM_CLASSES):
    """The classic tutorial baseline: flatten, two dense layers."""
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="digit")
    x = layers.Flatten()(inputs)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="livedigits_mlp")


def multiply_adds(model) -> int:
    """Multiply-adds per input image for Conv2D and Dense layers (the only costly ones here)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            out_h, out_w, out_c = layer.output.shape[1:]
            in_c = layer.input.shape[-1]
            total += out_h * out_w * out_c * kh * kw * in_c
        elif isinstance(layer, keras.layers.Dense):
            total += int(layer.input.shape[-1]) * layer.units
    return int(total)
