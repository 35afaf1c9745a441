"""Training the digit CNN: model definition, augmentation, "not a digit" examples, MNIST loading, the
training loop and the LiteRT export (``train.py`` at the repository root drives it).

Needs the training extras (TensorFlow, matplotlib); the runtime never imports this package.
"""
