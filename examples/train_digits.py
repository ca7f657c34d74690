#!/usr/bin/env python3
"""Trains a small CNN on scikit-learn's 8x8 handwritten digits with dynastat's nn API, written as a
MindSpore script would be (nn.Cell, nn.Conv2d, nn.BatchNorm2d, nn.TrainOneStepCell, ...).

    PYTHONPATH=python python3 examples/train_digits.py [--epochs 20] [--out digits_loss.png]

The digits data set ships inside scikit-learn (no download). Without scikit-learn the script says so and
exits with status 0. It shows a text progress bar per epoch, prints the test accuracy (the target is at
least 95%; the exit status is 1 below it) and saves the training-loss curve as a PNG (with matplotlib when
it is installed, otherwise drawn and encoded by hand).
"""
import argparse
import os
import struct
import sys
import time
import zlib

import numpy as np

try:
    import dynastat as ms
except ImportError:  # run from a checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import dynastat as ms
from dynastat import nn, Tensor


class DigitsCNN(nn.Cell):
    """conv(1->16) + BN + ReLU + maxpool -> conv(16->32) + BN + ReLU + maxpool -> dense(128->64) -> dense(64->10)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, pad_mode="same", has_bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, pad_mode="same", has_bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(32 * 2 * 2, 64, activation="relu")
        self.dropout = nn.Dropout(p=0.2)
        self.fc2 = nn.Dense(64, num_classes)

    def construct(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))   # (N, 16, 4, 4)
        x = self.pool(self.relu(self.bn2(self.conv2(x))))   # (N, 32, 2, 2)
        x = self.dropout(self.fc1(self.flatten(x)))
        return self.fc2(x)


def load_data(seed):
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]   # (1797, 1, 8, 8) in [0, 1]
    y = digits.target.astype(np.int32)
    idx = np.random.default_rng(seed).permutation(len(y))
    n_test = len(y) // 5
    test, train = idx[:n_test], idx[n_test:]
    return x[train], y[train], x[test], y[test]


def progress(epoch, epochs, done, total, loss, width=30):
    filled = int(width * done / total)
    bar = "#" * filled + "-" * (width - filled)
    sys.stdout.write(f"\repoch {epoch:2d}/{epochs} [{bar}] {done:3d}/{total} batches  loss {loss:.4f}")
    sys.stdout.flush()


def accuracy(net, x, y, batch=256):
    net.set_train(False)
    correct = 0
    for i in range(0, len(y), batch):
        logits = net(Tensor(x[i:i + batch]))
        correct += int((logits.asnumpy().argmax(1) == y[i:i + batch]).sum())
    return correct / len(y)


# ------------------------------------------------------------------------------------------ the plot
def save_plot(losses, epoch_marks, path):
    """The loss curve as a PNG: with matplotlib if it is installed, else rasterized with NumPy."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _save_png_by_hand(losses, epoch_marks, path)
        return "hand-drawn PNG"
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=1)
    for m in epoch_marks:
        ax.axvline(m, color="0.85", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("dynastat: small CNN on 8x8 digits")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return "matplotlib"


def _save_png_by_hand(losses, epoch_marks, path, w=600, h=320, margin=30):
    img = np.full((h, w, 3), 255, np.uint8)
    x0, x1, y0, y1 = margin, w - 10, 10, h - margin
    img[y0:y1 + 1, x0] = img[y1, x0:x1 + 1] = 0                     # axes
    n = len(losses)
    lo, hi = 0.0, max(max(losses), 1e-6)

    def px(i):
        return x0 + (x1 - x0) * i / max(n - 1, 1)

    def py(v):
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    for m in epoch_marks:                                            # epoch boundaries
        img[y0:y1, int(round(px(m - 1)))] = 220
    for k in range(1, 5):                                            # horizontal grid
        img[int(round(py(hi * k / 5))), x0 + 1:x1] = 235
    pts = [(px(i), py(v)) for i, v in enumerate(losses)]
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):                     # the curve, 2 px thick
        steps = int(max(abs(bx - ax), abs(by - ay))) + 1
        xs = np.round(np.linspace(ax, bx, steps + 1)).astype(int)
        ys = np.round(np.linspace(ay, by, steps + 1)).astype(int)
        for dy in (0, 1):
            img[np.clip(ys + dy, 0, h - 1), xs] = (31, 119, 180)
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


# ------------------------------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="digits_loss.png", help="where to save the loss curve (PNG)")
    args = ap.parse_args(argv)

    try:
        x_train, y_train, x_test, y_test = load_data(args.seed)
    except ImportError:
        print("scikit-learn is not installed: this example needs its bundled digits data set "
              "(pip install scikit-learn). Nothing to do.")
        return 0

    ms.set_seed(args.seed)
    net = DigitsCNN()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.Adam(net.trainable_params(), learning_rate=args.lr)
    train_step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)
    n_params = sum(p.size for p in net.trainable_params())
    print(f"dynastat {ms.__version__}: {len(y_train)} training / {len(y_test)} test images, "
          f"{n_params} trainable parameters")

    rng = np.random.default_rng(args.seed)
    n_batches = -(-len(y_train) // args.batch)
    losses, marks = [], []
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        train_step.set_train(True)
        order = rng.permutation(len(y_train))
        epoch_loss = 0.0
        for b in range(n_batches):
            idx = order[b * args.batch:(b + 1) * args.batch]
            loss = float(train_step(Tensor(x_train[idx]), Tensor(y_train[idx])).asnumpy())
            losses.append(loss)
            epoch_loss += loss
            progress(epoch, args.epochs, b + 1, n_batches, epoch_loss / (b + 1))
        marks.append(len(losses))
        acc = accuracy(net, x_test, y_test)
        sys.stdout.write(f"  test acc {acc * 100:5.1f}%\n")
    elapsed = time.perf_counter() - t0

    acc = accuracy(net, x_test, y_test)
    how = save_plot(losses, marks, args.out)
    print(f"trained {args.epochs} epochs ({len(losses)} steps) in {elapsed:.1f} s "
          f"({elapsed / len(losses) * 1e3:.1f} ms/step); loss curve saved to {args.out} ({how})")
    print(f"final test accuracy: {acc * 100:.2f}%")
    if acc < 0.95:
        print("below the 95% target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
