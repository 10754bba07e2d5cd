"""Image classification data: scikit-learn's bundled 8×8 digits, or MNIST from a local file.

Nothing is downloaded. Pixels are scaled to [0, 1] by the format's known range (digits: /16,
MNIST: /255 for integer files; a float file already in [0, 1] is kept), so every experiment
sees the same scaling.
"""

import zipfile
from pathlib import Path

import numpy as np

from ..core.domains import BadInput

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
DIGITS_MAX = 16.0
MNIST_MAX = 255.0


def _load_npz(path: Path) -> list[np.ndarray]:
    if not path.is_file():
        raise BadInput(
            f"MNIST file {str(path)!r} is not a file; expected a local .npz with "
            f"{', '.join(MNIST_KEYS)} (nothing is downloaded)"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in MNIST_KEYS if k not in f.files]
            if missing:
                raise BadInput(f"MNIST file {str(path)!r} lacks arrays {missing}")
            return [np.asarray(f[k]) for k in MNIST_KEYS]
    except BadInput:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise BadInput(f"MNIST file {str(path)!r} is not a readable .npz ({err})") from None


def _scale(x: np.ndarray, name: str, path: Path) -> np.ndarray:
    if x.dtype.kind not in "uif":
        raise BadInput(f"{name} in {str(path)!r} must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise BadInput(f"{name} in {str(path)!r} holds NaN or inf")
    return x / MNIST_MAX if x.max(initial=0.0) > 1.0 else x


def load_mnist(path: str | Path) -> tuple[tuple, tuple]:
    """`(x_train, y_train), (x_test, y_test)` from a local `.npz`, images `(n, 1, 28, 28)` in [0, 1]."""
    path = Path(path)
    x_tr, y_tr, x_te, y_te = _load_npz(path)
    xs = []
    for name, x, y in (("x_train", x_tr, y_tr), ("x_test", x_te, y_te)):
        if x.size == 0 or x.size % (28 * 28) or len(x) != len(y):
            raise BadInput(
                f"{name} in {str(path)!r} has shape {x.shape}: expected (n, 28, 28) or (n, 784) "
                f"with n matching its labels ({len(y)})"
            )
        xs.append(_scale(x, name, path).reshape(len(x), 1, 28, 28))
    return (xs[0], y_tr.astype(np.int32)), (xs[1], y_te.astype(np.int32))


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[tuple, tuple]:
    """scikit-learn's digits as `(x_train, y_train), (x_test, y_test)`, images `(n, 1, 8, 8)` in [0, 1].

    The split is a random permutation drawn from `seed`; `test_fraction` of the 1,797 images
    are held out.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / DIGITS_MAX).astype(np.float32)[:, None]
    y = digits.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(test_fraction * len(y))
    test, train = perm[:n_test], perm[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def classification_data(
    mnist_path: str | None = "", test_fraction: float = 0.2, seed: int = 0, flat: bool = False
) -> tuple[tuple, tuple]:
    """Digits by default, MNIST when `mnist_path` names a local `.npz`; `flat=True` gives `(n, d)`."""
    if mnist_path:
        train, test = load_mnist(mnist_path)
    else:
        train, test = load_digits_split(test_fraction, seed)
    if flat:
        train = (train[0].reshape(len(train[0]), -1), train[1])
        test = (test[0].reshape(len(test[0]), -1), test[1])
    return train, test
