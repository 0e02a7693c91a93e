"""scikit-learn's BayesianGaussianMixture from given initial labels: the oracle of the SDK's
variational mixture fit (tests/sdk/test_gaussian_mixture.cpp).

usage: bayesian_mixture.py DATA.csv LABELS.txt COMPONENTS MAX_ITER OUT.txt

Fits DATA (one sample per line) with covariance_type "full" and sklearn's default priors,
starting from the responsibilities one-hot in LABELS instead of k-means (sklearn has no
public way to give them: the fit is warm-started after its own _initialize). Writes
n_iter, lower_bound, then the weights, means and covariances flattened, one number per
line. Exits 77 (skipped) when scikit-learn is not installed (Debian: python3-sklearn)."""
import os
import sys

try:
    import numpy as np
    from sklearn.mixture import BayesianGaussianMixture
except ImportError:
    # Debian's python3-sklearn is visible to Debian's interpreter only (not to a pyenv one).
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit(77)

data_file, labels_file, components, max_iter, out_file = sys.argv[1:6]
x = np.loadtxt(data_file, delimiter=",", ndmin=2)
labels = np.loadtxt(labels_file, dtype=int, ndmin=1)
k = int(components)
bgm = BayesianGaussianMixture(n_components=k, covariance_type="full", max_iter=int(max_iter), tol=1e-3,
                              reg_covar=1e-6, warm_start=True)
bgm._check_parameters(x)
bgm._initialize(x, np.eye(k)[labels])
# Warm start: fit() skips its own initialisation and starts from the bound below.
bgm.converged_ = False
bgm.lower_bound_ = -np.inf
bgm.fit(x)
with open(out_file, "w") as out:
    for value in [bgm.n_iter_, bgm.lower_bound_, *bgm.weights_.ravel(), *bgm.means_.ravel(),
                  *bgm.covariances_.ravel()]:
        out.write("%.17g\n" % value)
