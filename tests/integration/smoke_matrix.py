#!/usr/bin/env python3
"""The smoke matrix: `medadv run` for every dataset plugin with every model plugin that
fits its task, with one attack and one detector, at a tiny size, so that no pair of
plugins is first met by a user.

usage: smoke_matrix.py MEDADV WRITE_SCRIPTED_MODEL WORKDIR [NAME_REGEX | --cover]

The plugins come from `medadv plugins list --json`, so a new plugin joins the matrix by
being built. A plugin's task comes from its own smoke run (`medadv plugins check`, which
builds each model as a classifier, else as a segmenter, and loads each data set with its
defaults), or, for a data set with a `task` parameter, from that parameter's choices.
Plugins with a required parameter cannot smoke-run with defaults: each needs an entry in
FIXTURES below (the files it reads, made here), and the matrix fails until it has one.
Detectors rotate over the classification pairs, so every detector plugin runs too;
segmentation pairs run the attack alone (detectors classify their inputs).
NAME_REGEX keeps the pairs whose "dataset x model" name it matches. --cover runs the fewest
pairs in which every data set (and task), every model and every detector still appear at
least once: the sanitized build's smoke run, where each pair costs several times more."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib

IMAGE_SIZE = 32  # vgg16 needs 32 px (five poolings)
COUNT = 120  # lid needs 3 clean fit images on adv_train (30 here), whatever the model learnt
CLASSES = 2
SPLITS = "{ train = 0.5, adv_train = 0.25, adv_test = 0.25 }"
ATTACK = '[[attack]]\nplugin = "pgd"\nepsilon = "8/255"\nstep = "2/255"\nsteps = 2\n'
LOSS = {"classification": "ce", "segmentation": "bce"}  # what PGD follows for each task


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


# ---- Files for the plugins that read them ------------------------------------------

def png_bytes(pixels, channels):
    """A 8-bit PNG of rows of pixel values (gray or RGB)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    height, width = len(pixels), len(pixels[0]) // channels
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    color_type = 0 if channels == 1 else 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def picture(index, label, size, channels):
    """Rows of a picture whose brightness tells its class: something to learn."""
    base = 60 + 120 * label
    return [[(base + 7 * x + 5 * y + 13 * index + 31 * c) % 256 for x in range(size) for c in range(channels)]
            for y in range(size)]


def write_image_folder(root):
    for i in range(COUNT):
        label = i % CLASSES
        os.makedirs(os.path.join(root, "class%d" % label), exist_ok=True)
        with open(os.path.join(root, "class%d" % label, "img%02d.png" % i), "wb") as f:
            f.write(png_bytes(picture(i, label, 20, 3), 3))
    return {"root": root}


def write_segmentation_folder(root):
    images, masks = os.path.join(root, "images"), os.path.join(root, "masks")
    os.makedirs(images)
    os.makedirs(masks)
    for i in range(COUNT):
        with open(os.path.join(images, "case%02d.png" % i), "wb") as f:
            f.write(png_bytes(picture(i, i % 2, 20, 3), 3))
        mask = [[255 if (x - 10) ** 2 + (y - 10) ** 2 < (4 + i % 5) ** 2 else 0 for x in range(20)] for y in range(20)]
        with open(os.path.join(masks, "case%02d.png" % i), "wb") as f:
            f.write(png_bytes(mask, 1))
    return {"images": images, "masks": masks}


def npy(descr, shape, raw):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join("%d," % d for d in shape))
    header += " " * ((64 - (11 + len(header)) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + raw


def write_medmnist(root):
    """A MedMNIST-shaped archive (gray 28 px, labels [N,1]), as np.savez writes it."""
    os.makedirs(root)
    path = os.path.join(root, "tinymnist.npz")
    counts = {"train": COUNT // 2, "val": COUNT // 4, "test": COUNT // 4}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        start = 0
        for split, n in counts.items():
            labels = [(start + i) % CLASSES for i in range(n)]
            pixels = b"".join(bytes(v for row in picture(start + i, labels[i], 28, 1) for v in row) for i in range(n))
            z.writestr(split + "_images.npy", npy("|u1", (n, 28, 28), pixels))
            z.writestr(split + "_labels.npy", npy("<i8", (n, 1), struct.pack("<%dq" % n, *labels)))
            start += n
    return {"path": path}


def scripted_model(writer, root, channels, task):
    path = os.path.join(root, "scripted-%s-%dch.pt" % (task, channels))
    if not os.path.exists(path):
        os.makedirs(root, exist_ok=True)
        classes = CLASSES if task == "classification" else 1  # binary segmentation: one logit per pixel
        result = run([writer, path, str(channels), str(classes), task])
        if result.returncode != 0:
            raise SystemExit("write_scripted_model failed: " + result.stderr)
    return {"path": path}


# Data sets: the tasks they serve, their channels, and the files they read (made under
# the folder given). Models: a function of (writer, folder, channels, task) giving params.
DATASET_FIXTURES = {
    "image-folder": (["classification"], 3, write_image_folder),
    "segmentation-folder": (["segmentation"], 3, write_segmentation_folder),
    "medmnist": (["classification"], 1, write_medmnist),
}
MODEL_FIXTURES = {
    "torchscript": (["classification", "segmentation"], scripted_model),
}


# ---- What each plugin is -----------------------------------------------------------

def has_required(plugin):
    return any(p.get("required") for p in plugin["parameters"])


def smoke_facts(medadv, plugins):
    """{name: (tasks, channels)} for the data sets and models that smoke-run with defaults."""
    facts = {}
    libraries = sorted({p["library"] for p in plugins if p["kind"] in ("dataset", "model") and not has_required(p)})
    for library in libraries:
        out = run([medadv, "plugins", "check", library]).stdout
        for kind, name, detail in re.findall(r"^\s+ok\s+(dataset|model) '([^']+)' \S+: .*?smoke run: (.*)$", out, re.M):
            task = re.search(r"\b(classification|segmentation)\b", detail)
            shape = re.search(r"of \[\d+, (\d+), \d+, \d+\]", detail)
            if task:
                facts[name] = ([task.group(1)], int(shape.group(1)) if shape else None)
    return facts


def tiny_params(plugin):
    """Keys that shrink a plugin: data sets' size and count, models' int parameters at their lower bound."""
    params = {}
    for p in plugin["parameters"]:
        if p["type"] != "int" or p.get("required"):
            continue
        if plugin["kind"] == "dataset" and p["name"] in ("image_size", "count"):
            params[p["name"]] = IMAGE_SIZE if p["name"] == "image_size" else COUNT
        elif plugin["kind"] == "model" and "min" in p:
            params[p["name"]] = int(p["min"])
    return params


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def experiment(name, dataset, dataset_params, model, model_params, task, detector):
    lines = ['[experiment]', 'name = "%s"' % name, 'seed = 0', 'device = "cpu"', '', '[dataset]',
             'plugin = "%s"' % dataset, 'splits = %s' % SPLITS]
    lines += ["%s = %s" % (k, toml_value(v)) for k, v in dataset_params.items()]
    lines += ['', '[model]', 'plugin = "%s"' % model]
    lines += ["%s = %s" % (k, toml_value(v)) for k, v in model_params.items()]
    lines += ['[model.train]', 'epochs = 1', '', ATTACK + 'loss = "%s"' % LOSS[task]]
    if detector:
        lines += ['[[detector]]', 'plugin = "%s"' % detector]
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    medadv, writer, workdir = argv[1:4]
    cover = len(argv) == 5 and argv[4] == "--cover"
    only = re.compile(argv[4]) if len(argv) == 5 and not cover else None
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    listing = run([medadv, "plugins", "list", "--json"])
    if listing.returncode != 0:
        print(listing.stderr, file=sys.stderr)
        return 1
    plugins = json.loads(listing.stdout)
    by_kind = {}
    for p in plugins:
        by_kind.setdefault(p["kind"], []).append(p)
    facts = smoke_facts(medadv, plugins)

    problems = []
    datasets = []  # (label, plugin, params, task, channels)
    for d in by_kind.get("dataset", []):
        params = tiny_params(d)
        if d["name"] in DATASET_FIXTURES:
            tasks, channels, make = DATASET_FIXTURES[d["name"]]
            params.update(make(os.path.join(workdir, "data", d["name"])))
        elif has_required(d):
            problems.append("dataset '%s' has a required parameter and no entry in DATASET_FIXTURES" % d["name"])
            continue
        elif d["name"] not in facts:
            problems.append("dataset '%s' did not pass its smoke run (medadv plugins check %s)" % (d["name"], d["library"]))
            continue
        else:
            tasks, channels = facts[d["name"]]
        task_param = next((p for p in d["parameters"] if p["name"] == "task" and p.get("choices")), None)
        for task in (task_param["choices"] if task_param else tasks):
            datasets.append(("%s(%s)" % (d["name"], task) if task_param else d["name"], d["name"],
                             dict(params, **({"task": task} if task_param else {})), task, channels))
    models = []  # (plugin, tasks, params maker)
    for m in by_kind.get("model", []):
        if m["name"] in MODEL_FIXTURES:
            tasks, make = MODEL_FIXTURES[m["name"]]
            models.append((m, tasks, make))
        elif has_required(m):
            problems.append("model '%s' has a required parameter and no entry in MODEL_FIXTURES" % m["name"])
        elif m["name"] not in facts:
            problems.append("model '%s' did not pass its smoke run (medadv plugins check %s)" % (m["name"], m["library"]))
        else:
            models.append((m, facts[m["name"]][0], None))
    detectors = sorted(p["name"] for p in by_kind.get("detector", []))

    candidates = []  # (name, dataset entry, model entry)
    for entry in datasets:
        label, task = entry[0], entry[3]
        for model in models:
            if task not in model[1]:
                continue
            name = "%s x %s" % (label, model[0]["name"])
            if only and not only.search(name):
                continue
            candidates.append((name, entry, model))
    if cover:
        candidates = covering_pairs(candidates, len(detectors))

    pairs = 0
    classification_pairs = 0
    started = time.time()
    for name, (label, dataset, dataset_params, task, channels), (m, tasks, make) in candidates:
        model_params = tiny_params(m)
        if make:
            model_params.update(make(writer, os.path.join(workdir, "models"), channels, task))
        detector = None
        if task == "classification" and detectors:
            detector = detectors[classification_pairs % len(detectors)]
            classification_pairs += 1
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name + (" " + detector if detector else "")).strip("-")
        folder = os.path.join(workdir, slug)
        os.makedirs(folder)
        toml = os.path.join(folder, "experiment.toml")
        with open(toml, "w") as f:
            f.write(experiment(slug, dataset, dataset_params, m["name"], model_params, task, detector))
        begin = time.time()
        result = run([medadv, "run", toml, "--output", os.path.join(folder, "run")],
                     env=dict(os.environ, MEDADV_CACHE=os.path.join(folder, "cache")))
        seconds = time.time() - begin
        pairs += 1
        problem = pair_problem(result, os.path.join(folder, "run"), detector)
        print("%-5s %-55s %-22s %5.1f s" % ("FAIL" if problem else "ok", name, detector or "-", seconds), flush=True)
        if problem:
            problems.append("%s (%s): %s\n%s" % (name, toml, problem, result.stderr[-3000:]))
    print("%d pairs in %.0f s" % (pairs, time.time() - started))
    if pairs == 0:
        problems.append("no pair of plugins was run")
    for p in problems:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


def covering_pairs(candidates, detector_count):
    """The fewest pairs (greedily) in which every data set label and every model appears, plus
    classification pairs again until each of the detector_count detectors has one."""
    chosen, seen = [], set()
    while True:
        best = max(candidates, key=lambda c: len({c[1][0], c[2][0]["name"]} - seen), default=None)
        if best is None or not {best[1][0], best[2][0]["name"]} - seen:
            break
        chosen.append(best)
        seen |= {best[1][0], best[2][0]["name"]}
    classification = [c for c in candidates if c[1][3] == "classification"]
    while classification and sum(1 for c in chosen if c[1][3] == "classification") < detector_count:
        chosen.append(classification[len(chosen) % len(classification)])
    return chosen


def pair_problem(result, run_dir, detector):
    """Why a run does not count as passed, or None."""
    if result.returncode != 0:
        return "medadv run exited with status %d" % result.returncode
    if not os.path.getsize(os.path.join(run_dir, "report.html")):
        return "no report.html"
    kinds = set()
    with open(os.path.join(run_dir, "results.jsonl")) as f:
        for line in f:
            if line.strip():
                kinds.add(json.loads(line).get("kind"))
    expected = {"attack"} | ({"detector"} if detector else set())
    missing = expected - kinds
    return "results.jsonl has no %s trial (kinds: %s)" % (" or ".join(sorted(missing)), sorted(kinds)) if missing else None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
