"""Training both networks with PyTorch on a lent GPU machine, which has PyTorch but no TensorFlow.

The networks here are the Keras ones of ``model.py`` (digits) and ``strings.py`` (digit strings) layer
for layer: TensorFlow's asymmetric "same" padding for strided convolutions, Keras's BatchNormalization
epsilon, the CTC blank as the last class. The trained weights are saved in the order of the Keras
model's ``get_weights()``, so ``train.py --from-gpu`` loads them into the Keras model, which exports to
LiteRT and writes the model card as after any training. The data is packed here first, by the same
code as a CPU run (``train.py pack``), so both kinds of run train on the same examples:

    python train.py pack --out runs/gpu                                   # this machine
    python -m livedigits.training.gpu digits --data runs/gpu --out OUT    # the GPU machine
    python -m livedigits.training.gpu strings --data runs/gpu --out OUT
    python -m livedigits.training.gpu both --data runs/gpu --out OUT      # (the two side by side, one GPU)
    python train.py --from-gpu OUT/digits_gpu.npz                         # this machine again
    python train.py strings --from-gpu OUT/strings_gpu.npz

Augmentation runs on the GPU, batch by batch: the digit one is ``augment.py``'s (projective warp,
stroke width, blur, contrast, noise) plus motion blur along a random direction; the string one is
``strings.augment_batch``'s (stroke width, stretch, shift) plus contrast and noise.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

DIGITS_FILE, STRINGS_FILE = "digits_data.npz", "strings_ingredients.npz"
NUM_CLASSES, BLANK = 11, 10     # digits 0-9 and "not a digit"; the CTC blank is the strings' last class
KERAS_BN_EPSILON = 1e-3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- networks

def _block(nn, c_in: int, c_out: int, kernel, stride=1, pad=(0, 0, 0, 0), dilation=(1, 1), momentum=0.1):
    """Conv (no bias) -> BatchNorm -> ReLU, with the input zero-padded (left, right, top, bottom) first."""
    layers = [nn.ZeroPad2d(pad)] if any(pad) else []
    layers += [nn.Conv2d(c_in, c_out, kernel, stride=stride, dilation=dilation, bias=False),
               nn.BatchNorm2d(c_out, eps=KERAS_BN_EPSILON, momentum=momentum), nn.ReLU()]
    return nn.Sequential(*layers)


def digit_net(torch, width: int = 40, dropout: float = 0.3):
    """``model.build_cnn``: TF pads a stride-2 5x5 "same" convolution of an even size by 1 before, 2 after."""
    nn = torch.nn
    tf_same_s2 = (1, 2, 1, 2)
    return nn.Sequential(
        _block(nn, 1, width, 3), _block(nn, width, width, 3),
        _block(nn, width, width, 5, 2, tf_same_s2), nn.Dropout(dropout),
        _block(nn, width, 2 * width, 3), _block(nn, 2 * width, 2 * width, 3),
        _block(nn, 2 * width, 2 * width, 5, 2, tf_same_s2), nn.Dropout(dropout),
        _block(nn, 2 * width, 4 * width, 4), nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(4 * width, NUM_CLASSES))  # logits; Keras has the softmax in its Dense layer


def strings_net(torch, dropout: float = 0.2):
    """``strings.build_model``: (B, 1, 32, W) ink map -> (B, W/4, 11) logits."""
    nn = torch.nn
    same3 = (1, 1, 1, 1)

    class StringsNet(nn.Module):
        def __init__(self):
            super().__init__()
            m = 0.01  # Keras's default BatchNormalization momentum 0.99
            self.stem = nn.Sequential(
                _block(nn, 1, 24, 3, pad=same3, momentum=m), nn.MaxPool2d((2, 2)),
                _block(nn, 24, 32, 3, pad=same3, momentum=m), nn.MaxPool2d((2, 2)),
                _block(nn, 32, 48, 3, pad=same3, momentum=m), _block(nn, 48, 48, 3, pad=same3, momentum=m),
                nn.MaxPool2d((2, 1)),
                _block(nn, 48, 80, 3, pad=same3, momentum=m), nn.MaxPool2d((2, 1)),
                _block(nn, 80, 128, (2, 1), momentum=m))
            self.context = nn.ModuleList(_block(nn, 128, 128, (1, 5), pad=(2 * d, 2 * d, 0, 0), dilation=(1, d),
                                                momentum=m) for d in (1, 2, 4))
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Conv2d(128, BLANK + 1, 1)

        def forward(self, x):
            x = self.stem(x)
            for block in self.context:
                x = x + block(x)
            x = self.head(self.dropout(x))          # (B, 11, 1, W/4)
            return x[:, :, 0].permute(0, 2, 1)      # (B, W/4, 11)

    return StringsNet()


def keras_weights(model) -> list[np.ndarray]:
    """The weights in the order of the twin Keras model's ``get_weights()``."""
    import torch

    out = []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            out.append(module.weight.detach().cpu().float().permute(2, 3, 1, 0).numpy())  # -> (kh, kw, in, out)
            if module.bias is not None:
                out.append(module.bias.detach().cpu().float().numpy())
        elif isinstance(module, torch.nn.BatchNorm2d):
            out += [t.detach().cpu().float().numpy() for t in
                    (module.weight, module.bias, module.running_mean, module.running_var)]
        elif isinstance(module, torch.nn.Linear):
            out += [module.weight.detach().cpu().float().numpy().T, module.bias.detach().cpu().float().numpy()]
    return out


def save_weights(path: Path, weights: list[np.ndarray], history: dict) -> None:
    np.savez(path, history=np.array(json.dumps(history)), **{f"w{i:03d}": w for i, w in enumerate(weights)})


def load_weights(path: Path) -> tuple[list[np.ndarray], dict]:
    """(weights in Keras order, training history) from ``save_weights``."""
    with np.load(path) as stored:
        names = sorted(k for k in stored.files if k.startswith("w"))
        return [stored[k] for k in names], json.loads(str(stored["history"]))


# ------------------------------------------------------------------------------------ augmentation

def augment_digits(torch, x, generator=None):
    """x: (B, 1, 28, 28) float in [0, 1], white on black -> augmented copy (``augment.AugmentSettings``)."""
    import torch.nn.functional as F

    from .augment import AugmentSettings

    s = AugmentSettings()
    b, dev = x.shape[0], x.device

    def uniform(limit):
        return (torch.rand(b, device=dev) * 2 - 1) * limit

    # one affine warp per image, as augment._transforms: x' = R . Shear . Scale . (x - c) + c + t
    angle, shear = uniform(math.radians(s.rotation_deg)), torch.tan(uniform(math.radians(s.shear_deg)))
    zoom = 1.0 + uniform(s.zoom)
    sx, sy = zoom * (1.0 + uniform(s.aspect)), zoom
    cos, sin = torch.cos(angle), torch.sin(angle)
    forward = torch.zeros(b, 3, 3, device=dev)
    forward[:, 0, 0], forward[:, 0, 1] = cos * sx, cos * shear * sy - sin * sy
    forward[:, 1, 0], forward[:, 1, 1] = sin * sx, sin * shear * sy + cos * sy
    centre = 13.5
    forward[:, 0, 2] = centre + uniform(s.shift_px) - forward[:, 0, 0] * centre - forward[:, 0, 1] * centre
    forward[:, 1, 2] = centre + uniform(s.shift_px) - forward[:, 1, 0] * centre - forward[:, 1, 1] * centre
    forward[:, 2, 2] = 1.0
    inverse = torch.linalg.inv(forward)[:, :2]                        # output pixel -> input pixel
    # affine_grid works in [-1, 1] coordinates (align_corners=True: -1 and 1 are pixel centres 0 and 27)
    to_norm = torch.tensor([[2 / 27, 0, -1], [0, 2 / 27, -1], [0, 0, 1]], device=dev)
    from_norm = torch.linalg.inv(to_norm)
    theta = to_norm[:2] @ torch.cat([inverse, torch.tensor([[[0, 0, 1.0]]], device=dev).expand(b, 1, 3)], 1) @ from_norm
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    # stroke width: thin (2x2 erosion), thick (2x2 dilation), thicker (3x3 dilation)
    thin = -F.max_pool2d(F.pad(-x, (0, 1, 0, 1), value=-1.0), 2, 1)
    thick = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
    thicker = F.max_pool2d(x, 3, 1, padding=1)
    choice = torch.rand(b, 1, 1, 1, device=dev)
    p1, p2, p3 = s.thin_prob, s.thin_prob + s.thick_prob, s.thin_prob + s.thick_prob + s.thicker_prob
    x = torch.where(choice < p1, thin, torch.where(choice < p2, thick, torch.where(choice < p3, thicker, x)))

    # motion blur along a random direction (hand-held video), 3-7 px, on 12 % of the digits
    x = _motion_blur(torch, x, probability=0.12)

    gauss = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], device=dev, dtype=x.dtype).view(1, 1, 3, 3) / 16
    blurred = F.conv2d(x, gauss, padding=1)
    weight = torch.rand(b, 1, 1, 1, device=dev) * (torch.rand(b, 1, 1, 1, device=dev) < s.blur_prob)
    x = x + weight * (blurred - x)
    peak = 1.0 - torch.rand(b, 1, 1, 1, device=dev) * (1.0 - s.contrast_low)
    x = torch.where(torch.rand(b, 1, 1, 1, device=dev) < s.contrast_prob, x * peak, x)
    std = torch.rand(b, 1, 1, 1, device=dev) * s.noise_std
    x = torch.where(torch.rand(b, 1, 1, 1, device=dev) < s.noise_prob, x + torch.randn_like(x) * std, x)
    return x.clamp(0.0, 1.0)


def _motion_blur(torch, x, probability: float, size: int = 7):
    """Each chosen image convolved with a line of random length and direction (its own kernel)."""
    import torch.nn.functional as F

    b, dev = x.shape[0], x.device
    chosen = torch.rand(b, device=dev) < probability
    if not bool(chosen.any()):
        return x
    half = size // 2
    coords = torch.arange(size, device=dev, dtype=x.dtype) - half
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    angle = torch.rand(b, device=dev) * math.pi
    length = 1.0 + torch.rand(b, device=dev) * 2.0                   # half-length 1-3 px
    dx, dy = torch.cos(angle).view(b, 1, 1), torch.sin(angle).view(b, 1, 1)
    along = xx * dx + yy * dy
    across = (-xx * dy + yy * dx).abs()
    kernel = ((along.abs() <= length.view(b, 1, 1)) & (across <= 0.5)).to(x.dtype)
    kernel = kernel / kernel.sum(dim=(1, 2), keepdim=True)
    blurred = F.conv2d(x.view(1, b, *x.shape[2:]), kernel.view(b, 1, size, size), padding=half, groups=b)
    return torch.where(chosen.view(b, 1, 1, 1), blurred.view_as(x), x)


def augment_strings(torch, x, widths, train_width: int):
    """x: (B, 1, 32, W) ink in [0, 1], each line's ink in its first ``widths`` columns -> stroke width
    changed on 40 %, stretched or squeezed 0.75-1.3x on 30 % (never past W), shifted 0-16 px, contrast
    and a little noise."""
    import torch.nn.functional as F

    b, dev = x.shape[0], x.device
    pick = torch.rand(b, 1, 1, 1, device=dev)
    thin = -F.max_pool2d(F.pad(-x, (0, 1, 0, 1), value=-1.0), 2, 1)
    thick = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
    x = torch.where(pick < 0.25, thin, torch.where(pick < 0.4, thick, x))
    w = widths.to(x.dtype)
    scale = torch.where(torch.rand(b, device=dev) < 0.3, 0.75 + torch.rand(b, device=dev) * 0.55,
                        torch.ones(b, device=dev))
    scale = torch.minimum(scale, train_width / w.clamp(min=1))
    room = (train_width - w * scale).clamp(min=0, max=16)
    shift = torch.floor(torch.rand(b, device=dev) * (room + 1))
    # output column u reads input column (u - shift) / scale; ink beyond a line's width is zero
    cols = torch.arange(train_width, device=dev, dtype=x.dtype).view(1, -1)
    source = (cols - shift.view(b, 1)) / scale.view(b, 1)
    inside = (source >= 0) & (source <= w.view(b, 1) - 1)
    height = x.shape[2]
    gx = (2 * source / (train_width - 1) - 1).view(b, 1, train_width).expand(b, height, train_width)
    gy = torch.linspace(-1, 1, height, device=dev).view(1, height, 1).expand(b, height, train_width)
    x = F.grid_sample(x, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="zeros", align_corners=True)
    x = x * inside.view(b, 1, 1, train_width)
    peak = torch.where(torch.rand(b, 1, 1, 1, device=dev) < 0.25, 0.6 + 0.4 * torch.rand(b, 1, 1, 1, device=dev),
                       torch.ones(b, 1, 1, 1, device=dev))
    noise = torch.randn_like(x) * 0.04 * (torch.rand(b, 1, 1, 1, device=dev) < 0.2)
    return (x * peak + noise).clamp(0.0, 1.0)


# ---------------------------------------------------------------------------------------- training

def _device(torch):
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class StepBudget:
    """How many steps fit in the time budget, re-estimated from the latest pace at step 100 and at
    each epoch's end (the other network's training may share the GPU from some point on)."""

    def __init__(self, minutes: float, max_steps: int):
        self.started = time.time()
        self.deadline = self.started + minutes * 60
        self.max_steps, self.total = max_steps, None
        self._mark = (self.started, 0)

    def replan(self, step: int) -> None:
        now = time.time()
        seconds, steps = now - self._mark[0], step - self._mark[1]
        if steps > 0:
            self.total = min(self.max_steps, step + int(max(0.0, self.deadline - now) * steps / seconds))
        self._mark = (now, step)

    def check(self, step: int, name: str, steps_per_epoch: int) -> bool:
        """After each step: the first plan at step 100 (logged); True once the budget is spent."""
        if step == 100:
            self.replan(step)
            log(f"{name}: {1000 * (time.time() - self.started) / 100:.1f} ms/step -> {self.total} steps "
                f"({self.total / steps_per_epoch:.1f} epochs) in {(self.deadline - self.started) / 60:.1f} min")
        return self.spent(step)

    def spent(self, step: int) -> bool:
        return (self.total is not None and step >= self.total) or time.time() > self.deadline


def _cosine(step: int, total: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (0.005 + 0.995 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_digits(data: Path, out: Path, minutes: float, batch_size: int = 256, lr: float = 2e-3,
                 seed: int = 1, max_epochs: int = 200) -> dict:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    dev = _device(torch)
    torch.backends.cudnn.benchmark = True
    with np.load(data / DIGITS_FILE) as stored:
        pictures = torch.from_numpy(stored["pictures"]).to(dev)          # unique 28x28 uint8
        index = torch.from_numpy(stored["fit_index"].astype(np.int64)).to(dev)
        labels = torch.from_numpy(stored["fit_labels"].astype(np.int64)).to(dev)
        x_val = torch.from_numpy(stored["val_x"]).to(dev).float().div(255).unsqueeze(1)
        y_val = torch.from_numpy(stored["val_y"].astype(np.int64)).to(dev)
        x_test = torch.from_numpy(stored["test_x"]).to(dev).float().div(255).unsqueeze(1)
        y_test = torch.from_numpy(stored["test_y"].astype(np.int64)).to(dev)
    model = digit_net(torch).to(dev).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(index) // batch_size
    log(f"digits: {len(index)} examples ({len(pictures)} distinct), {steps_per_epoch} steps/epoch on {dev}")

    def evaluate(x, y):
        model.eval()
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = torch.cat([model(x[i:i + 4096]).float() for i in range(0, len(x), 4096)])
        model.train()
        loss = float(F.cross_entropy(logits, y))
        return float((logits.argmax(1) == y).float().mean()), loss, logits

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "learning_rate": [], "seconds": []}
    best, best_state = None, None
    budget = StepBudget(minutes, max_epochs * steps_per_epoch)
    started, step = budget.started, 0
    for epoch in range(max_epochs):
        order = torch.randperm(len(index), device=dev)
        seen, correct, loss_sum = 0, torch.zeros((), device=dev), torch.zeros((), device=dev)
        for s in range(steps_per_epoch):
            chosen = order[s * batch_size:(s + 1) * batch_size]
            x = pictures[index[chosen]].float().div(255).unsqueeze(1)
            x = augment_digits(torch, x).contiguous(memory_format=torch.channels_last)
            y = labels[chosen]
            if budget.total:
                for group in optimizer.param_groups:
                    group["lr"] = _cosine(step, budget.total, lr, steps_per_epoch // 2)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if budget.check(step, "digits", steps_per_epoch):
                break
        budget.replan(step)
        val_acc, val_loss, _ = evaluate(x_val, y_val)
        history["loss"].append(float(loss_sum) / seen)
        history["accuracy"].append(float(correct) / seen)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_acc)
        history["learning_rate"].append(optimizer.param_groups[0]["lr"])
        history["seconds"].append(round(time.time() - started, 1))
        score = (round(val_acc, 5), -val_loss)
        if best is None or score >= best:
            best, best_epoch = score, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log(f"digits: epoch {epoch + 1} loss {history['loss'][-1]:.4f} acc {history['accuracy'][-1]:.4f} "
            f"val {val_acc:.4f} / {val_loss:.4f} lr {history['learning_rate'][-1]:.2e} ({time.time() - started:.0f} s, "
            f"{budget.total} steps planned)")
        if budget.spent(step):
            break
    model.load_state_dict(best_state)
    test_acc, _, test_logits = evaluate(x_test, y_test)
    digits_only = (test_logits[:, :10].argmax(1) == y_test).float().mean()
    result = {"history": history, "best_epoch": best_epoch, "epochs_run": len(history["loss"]),
              "batch_size": batch_size, "learning_rate": lr, "optimizer": "Adam", "seed": seed,
              "fit_seconds": round(time.time() - started, 1), "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
              "torch": torch.__version__, "test_accuracy_torch": round(float(digits_only), 5)}
    log(f"digits: best epoch {best_epoch}, val {best[0]:.4f}; MNIST test (torch, bf16) {float(digits_only):.4f}")
    save_weights(out / "digits_gpu.npz", keras_weights(model), result)
    return result


def _greedy(logits) -> list[str]:
    best = logits.argmax(-1).cpu().numpy()
    texts = []
    for row in best:
        keep = [int(c) for i, c in enumerate(row) if c != BLANK and (i == 0 or c != row[i - 1])]
        texts.append("".join(map(str, keep)))
    return texts


def train_strings(data: Path, out: Path, minutes: float, batch_size: int = 128, lr: float = 2e-3,
                  seed: int = 1, max_epochs: int = 400, synthetic: int = 120000, cheque_copies: int = 24,
                  workers: int = 12) -> dict:
    import torch
    import torch.nn.functional as F

    from livedigits.evaluation.scoring import edit_distance

    from .strings import lines_from_ingredients

    stored = lines_from_ingredients(data / STRINGS_FILE, synthetic, cheque_copies, workers, seed, log=print)
    torch.manual_seed(seed)
    dev = _device(torch)
    torch.backends.cudnn.benchmark = True
    lines = torch.from_numpy(stored["x"]).to(dev)                        # (N, 32, W) uint8
    widths = torch.from_numpy(stored["width"].astype(np.int64)).to(dev)
    targets = torch.from_numpy(stored["y"].astype(np.int64)).to(dev)      # (N, 16), -1 padded
    tune_x = torch.from_numpy(stored["tune_x"]).to(dev).float().div(255).unsqueeze(1)
    tune_widths = stored["tune_width"]
    tune_truth = [str(t) for t in stored["tune_truth"]]
    train_width = lines.shape[2]
    frames = train_width // 4
    model = strings_net(torch).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(lines) // batch_size
    target_lengths_all = (targets >= 0).sum(1)
    log(f"strings: {len(lines)} lines of {train_width} px, {steps_per_epoch} steps/epoch on {dev}")

    def tuning_score():
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(tune_x[i:i + 256]).float() for i in range(0, len(tune_x), 256)])
        model.train()
        texts = [_greedy(logits[k:k + 1, :-(-int(w) // 4)])[0] for k, w in enumerate(tune_widths)]
        errors = sum(edit_distance(r, t) for r, t in zip(texts, tune_truth))
        return float(np.mean([r == t for r, t in zip(texts, tune_truth)])), errors / max(1, sum(map(len, tune_truth)))

    history, best, best_state, step = [], None, None, 0
    budget = StepBudget(minutes, max_epochs * steps_per_epoch)
    started = budget.started
    for epoch in range(max_epochs):
        order = torch.randperm(len(lines), device=dev)
        losses = []
        for s in range(steps_per_epoch):
            chosen = order[s * batch_size:(s + 1) * batch_size]
            x = augment_strings(torch, lines[chosen].float().div(255).unsqueeze(1), widths[chosen], train_width)
            y, lengths = targets[chosen], target_lengths_all[chosen]
            if budget.total:
                for group in optimizer.param_groups:
                    group["lr"] = _cosine(step, budget.total, lr, steps_per_epoch)
            logits = model(x).float()                                     # (B, T, 11)
            log_probs = logits.log_softmax(-1).permute(1, 0, 2)           # (T, B, 11)
            loss = F.ctc_loss(log_probs, y.clamp(min=0), torch.full((len(y),), frames, device=dev, dtype=torch.long),
                              lengths, blank=BLANK, zero_infinity=True)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            losses.append(loss.detach())
            step += 1
            if budget.check(step, "strings", steps_per_epoch):
                break
        budget.replan(step)
        exact, cer = tuning_score()
        history.append({"epoch": epoch + 1, "steps": step, "loss": float(torch.stack(losses).mean()),
                        "tuning": {"n": len(tune_truth), "exact": exact, "cer": cer},
                        "seconds": round(time.time() - started)})
        if best is None or exact - cer > best:
            best, best_epoch = exact - cer, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log(f"strings: epoch {epoch + 1} loss {history[-1]['loss']:.3f} tuning exact {100 * exact:.1f} % "
            f"CER {100 * cer:.2f} % ({time.time() - started:.0f} s, {budget.total} steps planned)")
        if budget.spent(step):
            break
    model.load_state_dict(best_state)
    result = {"history": history, "best_epoch": best_epoch, "batch_size": batch_size, "learning_rate": lr,
              "seed": seed, "lines": json.loads(stored["counts"]), "train_seconds": round(time.time() - started),
              "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", "torch": torch.__version__}
    save_weights(out / "strings_gpu.npz", keras_weights(model), result)
    return result


def train_both(argv: list[str], out: Path) -> int:
    """Both networks at once, each in its own process with these options (a lent machine's time is
    short, and neither network keeps its GPU busy alone); each one's log goes to OUT/<network>.log
    as it runs. The exit status is the worse of the two."""
    import subprocess

    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for network in ("digits", "strings"):
        log_file = open(out / f"{network}.log", "w")
        runs.append((network, log_file, subprocess.Popen([sys.executable, "-m", "livedigits.training.gpu", network, *argv],
                                                         stdout=log_file, stderr=subprocess.STDOUT)))
    codes = []
    for network, log_file, process in runs:
        codes.append(process.wait())
        log_file.close()
        log(f"gpu: {network} ended with status {codes[-1]} (log: {out / (network + '.log')})")
    return max(codes)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m livedigits.training.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", choices=["digits", "strings", "both"])
    parser.add_argument("--data", default="runs/gpu", help="the folder `train.py pack` wrote")
    parser.add_argument("--out", default="runs/gpu/out", help="where the weights (.npz) go")
    parser.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--synthetic", type=int, default=120000, help="strings: composed lines to build")
    parser.add_argument("--workers", type=int, default=12, help="strings: processes building the lines")
    args = parser.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    files = {"digits": [DIGITS_FILE], "strings": [STRINGS_FILE], "both": [DIGITS_FILE, STRINGS_FILE]}[args.network]
    for needed in (data / name for name in files):
        if not needed.is_file():
            print(f"gpu: error: {needed} not found (make it with `python train.py pack`)", file=sys.stderr)
            return 2
    if importlib.util.find_spec("torch") is None:  # a one-line error, not a traceback
        print("gpu: error: PyTorch is not installed here", file=sys.stderr)
        return 2
    if args.network == "both":
        return train_both([a for a in argv if a != "both"], out)
    out.mkdir(parents=True, exist_ok=True)
    train = train_digits if args.network == "digits" else train_strings
    options = {"minutes": args.minutes, "lr": args.lr, "seed": args.seed}
    if args.batch_size:
        options["batch_size"] = args.batch_size
    if args.network == "strings":
        options.update(synthetic=args.synthetic, workers=args.workers)
    train(data, out, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
