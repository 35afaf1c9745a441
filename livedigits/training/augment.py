"""Training-time augmentation that prepares an MNIST-trained CNN for real paper.

Applied on the fly to whole batches inside ``tf.data`` (one projective warp per image for
rotation/zoom/shift/shear, then stroke thickness, blur, noise and contrast). Every number lives in
:class:`AugmentSettings`, which the model card records verbatim.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AugmentSettings:
    rotation_deg: float = 10.0        # uniform in +-, per image
    zoom: float = 0.10                # scale in [1 - zoom, 1 + zoom]
    aspect: float = 0.10              # extra x-scale in [1 - aspect, 1 + aspect] (narrow/wide hands)
    shift_px: float = 2.5             # translation in +- pixels (pipeline centres by mass, so small)
    shear_deg: float = 10.0           # x-shear (slanted handwriting) in +-
    thin_prob: float = 0.12           # 2x2 grey erosion: thin pen strokes
    thick_prob: float = 0.20          # 2x2 grey dilation: marker strokes
    thicker_prob: float = 0.06        # 3x3 grey dilation
    blur_prob: float = 0.25           # blend towards a 3x3 Gaussian by a uniform weight
    noise_prob: float = 0.20          # additive Gaussian noise of std up to noise_std
    noise_std: float = 0.08
    contrast_prob: float = 0.25       # ink peak scaled to [contrast_low, 1]
    contrast_low: float = 0.55

    def as_dict(self) -> dict:
        return asdict(self)


def _transforms(tf, batch: int, s: AugmentSettings, centre: float):
    """Per-image inverse projective transforms (output -> input), shape (batch, 8)."""
    def uniform(limit):
        return tf.random.uniform([batch], -limit, limit)

    angle = uniform(math.radians(s.rotation_deg))
    shear = tf.tan(uniform(math.radians(s.shear_deg)))
    zoom = 1.0 + uniform(s.zoom)
    sx, sy = zoom * (1.0 + uniform(s.aspect)), zoom
    tx, ty = uniform(s.shift_px), uniform(s.shift_px)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # forward map: x' = R . Shear . Scale . (x - c) + c + t
    a = cos * sx + (-sin) * 0.0
    b = cos * shear * sy - sin * sy
    d = sin * sx
    e = sin * shear * sy + cos * sy
    zeros, ones = tf.zeros([batch]), tf.ones([batch])
    forward = tf.stack([
        tf.stack([a, b, centre + tx - a * centre - b * centre], axis=1),
        tf.stack([d, e, centre + ty - d * centre - e * centre], axis=1),
        tf.stack([zeros, zeros, ones], axis=1),
    ], axis=1)
    inverse = tf.linalg.inv(forward)
    inverse = inverse / inverse[:, 2:3, 2:3]
    return tf.reshape(inverse, [batch, 9])[:, :8]


def augment_batch(images, settings: AugmentSettings = AugmentSettings()):
    """images: (N, 28, 28, 1) float32 in [0, 1], white on black -> augmented, same shape and range."""
    import tensorflow as tf  # training-only dependency

    s = settings
    batch = tf.shape(images)[0]
    size = images.shape[1]
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=_transforms(tf, batch, s, (size - 1) / 2.0),
        output_shape=tf.constant([size, size]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")

    def per_image(prob):
        return tf.reshape(tf.random.uniform([batch]) < prob, [-1, 1, 1, 1])

    thin = -tf.nn.max_pool2d(-warped, 2, 1, "SAME")
    thick = tf.nn.max_pool2d(warped, 2, 1, "SAME")
    thicker = tf.nn.max_pool2d(warped, 3, 1, "SAME")
    choice = tf.random.uniform([batch])
    p1, p2, p3 = s.thin_prob, s.thin_prob + s.thick_prob, s.thin_prob + s.thick_prob + s.thicker_prob
    choice = tf.reshape(choice, [-1, 1, 1, 1])
    x = tf.where(choice < p1, thin, tf.where(choice < p2, thick, tf.where(choice < p3, thicker, warped)))

    gauss = tf.constant([[1, 2, 1], [2, 4, 2], [1, 2, 1]], tf.float32) / 16.0
    blurred = tf.nn.conv2d(x, tf.reshape(gauss, [3, 3, 1, 1]), 1, "SAME")
    weight = tf.random.uniform([batch, 1, 1, 1]) * tf.cast(per_image(s.blur_prob), tf.float32)
    x = x + weight * (blurred - x)

    peak = 1.0 - tf.random.uniform([batch, 1, 1, 1], 0.0, 1.0 - s.contrast_low)
    x = tf.where(per_image(s.contrast_prob), x * peak, x)

    std = tf.random.uniform([batch, 1, 1, 1], 0.0, s.noise_std)
    noise = tf.random.normal(tf.shape(x)) * std
    x = tf.where(per_image(s.noise_prob), x + noise, x)
    return tf.clip_by_value(x, 0.0, 1.0)
