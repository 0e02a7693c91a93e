#!/usr/bin/env python3
"""A user's TorchScript model under medadv and under PyTorch itself: what medadv exports
must be what PyTorch computes with the same file.

usage: torchscript_reference.py MEDADV WORKDIR

Trains a small classifier in PyTorch on MedMNIST-layout data (1x28x28, two classes),
scripts and saves it, and runs `medadv run` with the `medmnist` data set, the
`torchscript` model (no [model] train: the file's weights are attacked as they are) and
FGSM, exporting npz. Then, with the same file loaded by torch.jit.load:
- pred_clean and pred_adversarial are the model's own predictions on the exported clean
  and adversarial images, image for image;
- the adversarial images are FGSM computed independently (x + eps * sign(grad of the
  cross-entropy), clipped to [0, 1]) on the exported clean images and labels, pixel for
  pixel, but where the gradient is so small that float rounding may flip its sign;
- the clean images are the npz's own pixels / 255.
Exits 77 (skipped) when PyTorch for Python is not installed (Debian: python3-torch)."""
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    # Debian's python3-torch is visible to Debian's interpreter only (not to a pyenv one).
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print(f"SKIP: PyTorch for Python is not installed ({e}); apt-get install python3-torch")
    sys.exit(77)

EPSILON = 8 / 255
SIZE = 28


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def make_images(count, generator):
    """Dark or bright discs on noise: class 1 is bright. uint8, [N, 28, 28]."""
    labels = torch.randint(0, 2, (count,), generator=generator)
    y, x = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    images = []
    for label in labels.tolist():
        cy, cx = torch.randint(8, 20, (2,), generator=generator).tolist()
        disc = ((y - cy) ** 2 + (x - cx) ** 2 <= 25).float()
        background = 90 + 30 * torch.rand((SIZE, SIZE), generator=generator)
        image = background + disc * (24 if label == 1 else -18)
        images.append(image.clamp(0, 255).round().to(torch.uint8))
    return torch.stack(images), labels


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8 * 7 * 7, 2)

    def forward(self, x):
        x = (x - 0.45) / 0.2  # the module normalises its own input
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 4)
        return self.fc(x.flatten(1))


def main():
    medadv, work = sys.argv[1], os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    splits = {name: make_images(n, generator) for name, n in (("train", 200), ("val", 40), ("test", 120))}
    npz = os.path.join(work, "discmnist.npz")
    np.savez(npz, **{f"{name}_{part}": (images.numpy() if part == "images" else labels.numpy().astype(np.uint8).reshape(-1, 1))
                     for name, (images, labels) in splits.items() for part in ("images", "labels")})

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    images, labels = splits["train"]
    x = images.float().unsqueeze(1) / 255
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), labels).backward()
        optimizer.step()
    net.eval()
    model_file = os.path.join(work, "net.pt")
    torch.jit.script(net).save(model_file)

    experiment = os.path.join(work, "reference.toml")
    with open(experiment, "w") as f:
        f.write(f"""[experiment]
name = "torchscript-reference"
seed = 3

[dataset]
plugin = "medmnist"
path = "{npz}"

[model]
plugin = "torchscript"
path = "{model_file}"

[[attack]]
plugin = "fgsm"
label = "fgsm"
epsilon = "8/255"

[report]
export = ["npz"]
""")
    run_dir = os.path.join(work, "run")
    result = subprocess.run([medadv, "run", experiment, "--output", run_dir], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"medadv run exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    exported = [f for f in os.listdir(os.path.join(run_dir, "adversarial")) if f.endswith(".npz")]
    if not exported:
        fail("no npz in " + os.path.join(run_dir, "adversarial"))

    scripted = torch.jit.load(model_file)
    scripted.eval()
    checked = 0
    for name in sorted(exported):
        arrays = np.load(os.path.join(run_dir, "adversarial", name))
        clean = torch.from_numpy(arrays["clean"])
        adversarial = torch.from_numpy(arrays["adversarial"])
        labels = torch.from_numpy(arrays["labels"]).long()
        with torch.no_grad():
            own_clean = scripted(clean).argmax(1)
            own_adversarial = scripted(adversarial).argmax(1)
        if not torch.equal(own_clean, torch.from_numpy(arrays["pred_clean"]).long()):
            fail(f"{name}: pred_clean differs from the file's own predictions on the exported clean images in "
                 f"{int((own_clean != torch.from_numpy(arrays['pred_clean']).long()).sum())} of {len(labels)}")
        if not torch.equal(own_adversarial, torch.from_numpy(arrays["pred_adversarial"]).long()):
            fail(f"{name}: pred_adversarial differs from the file's own predictions on the exported adversarial "
                 f"images in {int((own_adversarial != torch.from_numpy(arrays['pred_adversarial']).long()).sum())} "
                 f"of {len(labels)}")
        # The clean images are the stored pixels: one of the stored splits, scaled to [0, 1].
        stored = torch.cat([images for images, _ in splits.values()]).float().unsqueeze(1) / 255
        matches = (clean.flatten(1).unsqueeze(1) == stored.flatten(1).unsqueeze(0)).all(2).any(1)
        if not bool(matches.all()):
            fail(f"{name}: {int((~matches).sum())} exported clean images are none of the stored images / 255")

        x = clean.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(scripted(x), labels).backward()
        reference = (clean + EPSILON * x.grad.sign()).clamp(0, 1)
        differs = (reference - adversarial).abs() > 1e-6
        # Where the gradient is tiny, its sign is float rounding in either program.
        tiny = x.grad.abs() <= 1e-6 * x.grad.abs().max()
        unexplained = differs & ~tiny
        if int(unexplained.sum()) > 0:
            fail(f"{name}: {int(unexplained.sum())} of {differs.numel()} adversarial pixels differ from PyTorch's "
                 f"FGSM where the gradient is not negligible ({int(differs.sum())} differ in all)")
        flipped = float((own_adversarial != labels).float().mean() - (own_clean != labels).float().mean())
        print(f"{name}: {len(labels)} images, predictions equal, {int(differs.sum())} of {differs.numel()} pixels "
              f"off the reference (all at a negligible gradient); error rate up by {flipped:.3f}")
        checked += 1
    print(f"PASS: {checked} exported trial(s) match PyTorch on the same TorchScript file")


if __name__ == "__main__":
    main()
