#!/usr/bin/env python3
"""PGD-20 in plain PyTorch eager mode: the reference bench/pgd_throughput.cpp is compared to.

Reads the .npz that `pgd_throughput --export` wrote (the model's state dict under
"state.<name>", the attacked images, labels and their clean logits, the settings under
"meta.<name>"), rebuilds the same architecture in plain PyTorch, loads the weights,
checks that its logits match the C++ ones (max abs diff < 1e-4, else exit 1), then times
the textbook PGD loop exactly as the C++ side timed medadv's pgd plugin: the same
images, batch size, warm-up batches, thread count and device. Prints the three figures
and their ratios.

Needs only torch (the archive is read with zipfile; no numpy).
"""
import argparse
import ast
import statistics
import struct
import sys
import time
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

LOGIT_TOLERANCE = 1e-4

NPY_DTYPES = {
    "<f4": torch.float32, "<f8": torch.float64, "<f2": torch.float16,
    "<i8": torch.int64, "<i4": torch.int32, "<i2": torch.int16, "|i1": torch.int8,
    "|u1": torch.uint8, "|b1": torch.bool,
}


def read_npz(path):
    """Every `name.npy` entry of an uncompressed or deflated .npz as a CPU tensor."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for entry in archive.namelist():
            if not entry.endswith(".npy"):
                continue
            data = archive.read(entry)
            if data[:6] != b"\x93NUMPY":
                sys.exit(f"{path}: {entry} is not a .npy array")
            if data[6] == 1:
                (header_len,), start = struct.unpack("<H", data[8:10]), 10
            else:
                (header_len,), start = struct.unpack("<I", data[8:12]), 12
            header = ast.literal_eval(data[start:start + header_len].decode("latin1"))
            dtype = NPY_DTYPES.get(header["descr"])
            if dtype is None:
                sys.exit(f"{path}: {entry} has unsupported dtype {header['descr']}")
            shape = tuple(header["shape"])
            payload = bytearray(data[start + header_len:])
            if len(payload) == 0:
                tensor = torch.empty(shape, dtype=dtype)
            elif header["fortran_order"]:
                tensor = torch.frombuffer(payload, dtype=dtype).reshape(shape[::-1]).permute(
                    *reversed(range(len(shape)))).contiguous()
            else:
                tensor = torch.frombuffer(payload, dtype=dtype).reshape(shape).clone()
            arrays[entry[:-4]] = tensor
    return arrays


# ---- The architectures, as plugins/models/*/ build them ------------------------------
# Module and buffer names follow the C++ registration names so that the state dict loads
# strictly. Both models normalise inside: (x - input_mean) / input_std per channel.

def conv(cin, cout, kernel, stride):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)


class BasicBlock(nn.Module):
    """resnet.h detail::BasicBlock: conv3x3 BN ReLU conv3x3 BN, + identity (conv1x1 BN when
    the shape changes), ReLU."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = conv(cin, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(conv(cin, planes, 1, stride), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class ResNet18(nn.Module):
    """resnet.h ResNet (resnet18): stem, layer1..4 of two BasicBlocks (w, 2w, 4w, 8w planes;
    the first block of layers 2-4 has stride 2), global average pool, linear."""

    def __init__(self, channels, classes, width, imagenet_stem):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("input_std", torch.ones(1, channels, 1, 1))
        self.imagenet_stem = imagenet_stem
        self.conv1 = conv(channels, width, 7, 2) if imagenet_stem else conv(channels, width, 3, 1)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for layer in range(4):
            planes = width << layer
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(cin, planes, 2 if layer > 0 and b == 0 else 1))
                cin = planes
            setattr(self, f"layer{layer + 1}", nn.ModuleList(blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1((x - self.input_mean) / self.input_std)))
        if self.imagenet_stem:
            h = F.max_pool2d(h, 3, 2, 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                h = block(h)
        return self.fc(h.mean((2, 3)))


def small_cnn_block(cin, cout):
    return nn.Sequential(conv(cin, cout, 3, 1), nn.BatchNorm2d(cout), nn.ReLU(),
                         conv(cout, cout, 3, 1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))


class SmallCnn(nn.Module):
    """small_cnn.h SmallCnn: three blocks (w, 2w, 4w), global average pool, dropout, linear."""

    def __init__(self, channels, classes, width):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("input_std", torch.ones(1, channels, 1, 1))
        self.block1 = small_cnn_block(channels, width)
        self.block2 = small_cnn_block(width, 2 * width)
        self.block3 = small_cnn_block(2 * width, 4 * width)
        self.dropout = nn.Dropout(0.0)  # identity in eval mode whatever its p
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        h = (x - self.input_mean) / self.input_std
        h = self.block3(self.block2(self.block1(h)))
        return self.fc(self.dropout(h.mean((2, 3))))


def build(model, state):
    """The architecture for `model`, sized from the weights themselves."""
    if model == "resnet18":
        stem = state["conv1.weight"]
        return ResNet18(channels=stem.shape[1], classes=state["fc.weight"].shape[0], width=stem.shape[0],
                        imagenet_stem=stem.shape[-1] == 7)
    if model == "small-cnn":
        first = state["block1.0.weight"]
        return SmallCnn(channels=first.shape[1], classes=state["fc.weight"].shape[0], width=first.shape[0])
    sys.exit(f"unknown model {model!r} (resnet18 or small-cnn)")


# ---- The attack -----------------------------------------------------------------------

def pgd(model, clean, labels, eps, alpha, steps, gen):
    """Textbook L-inf PGD (Madry et al.): uniform random start in the ball, then `steps`
    times: gradient of the summed cross-entropy w.r.t. the input only, a sign step, clamp
    to the ball and to [0,1]. One last forward judges success (prediction != label)."""
    noise = torch.rand(clean.shape, generator=gen)  # on the CPU, as medadv draws starts
    x = (clean + (noise.to(clean.device) * 2 - 1) * eps).clamp(0, 1)
    low, high = clean - eps, clean + eps
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels, reduction="sum")
        grad, = torch.autograd.grad(loss, x)
        x = torch.min(torch.max(x.detach() + alpha * grad.sign(), low), high).clamp(0, 1)
    with torch.no_grad():
        return model(x).argmax(1) != labels


def timed_pass(images, labels, batch_size, warmup, attack):
    """As timed_pass in pgd_throughput.cpp: `warmup` untimed batches (the first batch
    again), then every batch, each timed on its own (its success count read at its end).
    Returns (images per second from the median full-batch time, median, min, max, total
    seconds, success rate)."""
    n = images.shape[0]
    for _ in range(warmup):
        attack(images[:batch_size], labels[:batch_size]).sum().item()
    successes, batch_seconds = 0, []
    start = time.perf_counter()
    for begin in range(0, n, batch_size):
        batch_start = time.perf_counter()
        x, y = images[begin:begin + batch_size], labels[begin:begin + batch_size]
        successes += attack(x, y).sum().item()
        if x.shape[0] == batch_size:
            batch_seconds.append(time.perf_counter() - batch_start)
    total = time.perf_counter() - start
    median = statistics.median(batch_seconds)
    return batch_size / median, median, min(batch_seconds), max(batch_seconds), total, successes / n


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("npz", help="the archive pgd_throughput --export wrote")
    parser.add_argument("--model", required=True, choices=["resnet18", "small-cnn"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    args = parser.parse_args()

    arrays = read_npz(args.npz)
    meta = {k[len("meta."):]: v.reshape(-1)[0].item() for k, v in arrays.items() if k.startswith("meta.")}
    state = {k[len("state."):]: v for k, v in arrays.items() if k.startswith("state.")}
    threads = int(meta["threads"])
    torch.set_num_threads(threads)
    device = torch.device("cuda" if meta["cuda"] else "cpu")

    model = build(args.model, state)
    model.load_state_dict(state, strict=True)  # every name and shape must match
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # weights frozen: gradients flow to the input only

    images = arrays["images"].to(device)
    labels = arrays["labels"].to(device)
    with torch.no_grad():
        logits = model(images).cpu()
    diff = (logits.double() - arrays["logits"].double()).abs().max().item()
    if not diff < LOGIT_TOLERANCE:
        print(f"FAIL: PyTorch logits differ from medadv's by up to {diff:.3g} (tolerance {LOGIT_TOLERANCE:g}): "
              "the Python architecture does not match the C++ one", file=sys.stderr)
        return 1
    print(f"PyTorch {torch.__version__}: logits match medadv's (max abs diff {diff:.2e} < {LOGIT_TOLERANCE:g})")

    eps, alpha, steps = meta["epsilon"], meta["step"], int(meta["steps"])
    batch_size, warmup = int(meta["batch_size"]), int(meta["warmup"])
    gen = torch.Generator().manual_seed(args.seed)
    python_rate, median, fastest, slowest, total, success = timed_pass(
        images, labels, batch_size, warmup, lambda x, y: pgd(model, x, y, eps, alpha, steps, gen))
    print(f"{'PyTorch eager loop':20s}: {python_rate:8.3f} images/s  (median batch {median:.2f} s, min {fastest:.2f}, "
          f"max {slowest:.2f}; total {total:.1f} s; success rate {success:.3f})")

    medadv_rate, bare_rate = meta["medadv_images_per_second"], meta["bare_images_per_second"]
    print(f"-- result (images/s from the median batch time): PGD-{steps} linf eps {eps * 255:g}/255 step {alpha * 255:g}/255, {args.model} "
          f"{int(meta['image_size'])} px, {images.shape[0]} images, batch {batch_size}, {device.type}, {threads} threads --")
    print(f"  medadv pgd plugin   {medadv_rate:9.3f} images/s   success {meta['medadv_success_rate']:.3f}")
    if bare_rate > 0:
        print(f"  bare LibTorch loop  {bare_rate:9.3f} images/s   success {meta['bare_success_rate']:.3f}")
    print(f"  PyTorch eager       {python_rate:9.3f} images/s   success {success:.3f}")
    print(f"  medadv / PyTorch    {medadv_rate / python_rate:9.3f}   (> 1: medadv is faster)")
    if bare_rate > 0:
        print(f"  medadv / bare       {medadv_rate / bare_rate:9.3f}   (the SDK's own cost; 1 = none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
