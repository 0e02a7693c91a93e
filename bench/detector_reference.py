#!/usr/bin/env python3
"""kd, mahalanobis and svm in scikit-learn: the reference bench/detector_throughput.cpp is compared to.

Reads the .npz that `detector_throughput --export` wrote (fit and score features, labels,
the predicted classes of the scored features, medadv's timings and AUCs under "meta.*")
and runs each detector the way the published reference code does:

  kd           one sklearn KernelDensity (Gaussian, bandwidth 1.0) per class on the clean
               fit features of that class; score = minus the log density under the KDE of
               the predicted class (Feinman et al.'s and the HFC code).
  mahalanobis  class means and one sklearn EmpiricalCovariance of the class-centred clean
               fit features; score = half the squared distance to the closest class mean
               (Lee et al.'s code, one layer, no input preprocessing).
  svm          sklearn SVC (RBF, C = 1, gamma "scale", probability=True: Platt scaling by
               internal 5-fold cross-validation, as libsvm's -b 1) on clean vs adversarial
               fit features; score = the probability of "adversarial".

Each is timed like the C++ side (one untimed warm-up, then fit + scoring, median over the
same number of repeats) and printed with its AUC next to medadv's time and AUC. The thread
count is set by the caller (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before numpy loads).
"""
import argparse
import statistics
import time

import numpy as np
from scipy.special import logsumexp
from sklearn.covariance import EmpiricalCovariance
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity
from sklearn.svm import SVC


def by_predicted_class(data, minus_log_density):
    """The clean and adversarial score vectors, each row scored by minus_log_density[c] of
    its predicted class c."""
    def score(features, predicted):
        out = np.empty(len(features))
        for c, density in minus_log_density.items():
            rows = predicted == c
            if rows.any():
                out[rows] = density(features[rows])
        return out

    return (score(data["test.clean"], data["test.clean_predicted"]),
            score(data["test.adversarial"], data["test.adversarial_predicted"]))


def class_points(data):
    labels = data["fit.labels"]
    return {c: data["fit.clean"][labels == c] for c in np.unique(labels)}


def kd(data):
    kdes = {c: KernelDensity(kernel="gaussian", bandwidth=1.0).fit(points) for c, points in class_points(data).items()}
    return by_predicted_class(data, {c: (lambda x, kde=kde: -kde.score_samples(x)) for c, kde in kdes.items()})


def kd_exact(data):
    """kd again, the sum over every kernel written out in float64 (what kd computes): an
    independent check of kd's AUC. scikit-learn's tree-based KernelDensity bounds the sum
    node by node, and in 64 dimensions, far from the fit points, its log densities can be
    off by many nats (scikit-learn issues 7492 and 27186)."""
    def minus_log_density(points):
        points = points.astype(np.float64)

        def density(x):
            x = x.astype(np.float64)
            squared = (x * x).sum(1)[:, None] + (points * points).sum(1)[None, :] - 2.0 * x @ points.T
            return -(logsumexp(-0.5 * np.maximum(squared, 0.0), axis=1) - np.log(len(points))
                     - 0.5 * points.shape[1] * np.log(2.0 * np.pi))
        return density

    return by_predicted_class(data, {c: minus_log_density(points) for c, points in class_points(data).items()})


def mahalanobis(data):
    features, labels = data["fit.clean"], data["fit.labels"]
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    precision = EmpiricalCovariance(assume_centered=False).fit(centred).precision_

    def score(x):
        distances = [0.5 * np.einsum("ij,jk,ik->i", x - m, precision, x - m) for m in means]
        return np.min(distances, axis=0)

    return score(data["test.clean"]), score(data["test.adversarial"])


def svm(data):
    x = np.concatenate([data["fit.clean"], data["fit.adversarial"]])
    y = np.concatenate([np.zeros(len(data["fit.clean"])), np.ones(len(data["fit.adversarial"]))])
    model = SVC(C=1.0, kernel="rbf", gamma="scale", probability=True, random_state=0).fit(x, y)
    return model.predict_proba(data["test.clean"])[:, 1], model.predict_proba(data["test.adversarial"])[:, 1]


# name printed, function, the medadv detector it is compared to
DETECTORS = [("kd", kd, "kd"), ("kd (exact sum)", kd_exact, "kd"), ("mahalanobis", mahalanobis, "mahalanobis"),
             ("svm", svm, "svm")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz", help="the file detector_throughput --export wrote")
    args = parser.parse_args()
    with np.load(args.npz) as archive:
        data = {name: archive[name] for name in archive.files}
    repeats = int(data["meta.repeats"])
    print(f"scikit-learn detectors on the same features, median of {repeats}")
    for name, detector, ours_name in DETECTORS:
        detector(data)  # untimed warm-up, as on the C++ side
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            clean, adversarial = detector(data)
            seconds.append(time.perf_counter() - start)
        auc = roc_auc_score(np.r_[np.zeros(len(clean)), np.ones(len(adversarial))], np.r_[clean, adversarial])
        ours = float(data[f"meta.seconds.{ours_name}"])
        theirs = statistics.median(seconds)
        print(f"  python  {name:<15} fit + score {theirs:8.3f} s   AUC {auc:.4f}"
              f"   medadv {ours:.3f} s, AUC {float(data[f'meta.auc.{ours_name}']):.4f}"
              f"   python / medadv time {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
