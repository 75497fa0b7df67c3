"""Every split, shuffle, subset or window keeps each label with its own sample.

The fake data sets below make the label recoverable from the sample itself (an
image filled with a grey level that encodes its label, a series whose value is its
own time index), so any split or shuffle that moves images without their labels, or
labels without their images, fails here, whatever the seed.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aebook import anomaly, data, plotting  # noqa: E402
from aebook.models import sample_conditional  # noqa: E402

N_TRAIN, N_TEST = 60, 25
LEVEL = 20  # image of label y: every pixel but the first is 10 + LEVEL * y (10 .. 190)


def _labelled_images(labels, first_id):
    """uint8 images (N, 28, 28): pixel (0, 0) is a unique id, the rest encodes the label."""
    x = np.empty((len(labels), 28, 28), np.uint8)
    x[:] = (10 + LEVEL * labels)[:, None, None]
    x[:, 0, 0] = first_id + np.arange(len(labels))  # ids 0..84, all distinct
    return x


def _write(path, seed=0):
    rng = np.random.default_rng(seed)
    y_train = rng.integers(0, 10, N_TRAIN).astype(np.uint8)
    y_test = rng.integers(0, 10, N_TEST).astype(np.uint8)
    arrays = {"x_train": _labelled_images(y_train, 0), "y_train": y_train,
              "x_test": _labelled_images(y_test, N_TRAIN), "y_test": y_test}
    np.savez(path, **arrays)
    return arrays


def _decode(x):
    """(ids, labels) read back from float images in [0, 1], flat or (N, 28, 28, 1)."""
    pixels = np.round(np.asarray(x).reshape(len(x), -1) * 255).astype(int)
    assert np.all(pixels[:, 1:] == pixels[:, 1:2]), "an image was altered, not just moved"
    return pixels[:, 0], (pixels[:, 1] - 10) // LEVEL


def _assert_aligned(x, y):
    assert len(x) == len(y)
    _, from_image = _decode(x)
    np.testing.assert_array_equal(from_image, y, err_msg="a label was separated from its image")


@pytest.fixture(params=["mnist", "fashion_mnist"])
def data_dir(request, tmp_path, monkeypatch):
    """AEBOOK_DATA_DIR pointing at a generated file; yields (loader, arrays written)."""
    name = request.param
    arrays = _write(tmp_path / f"{name}.npz")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    loader = {"mnist": data.load_mnist, "fashion_mnist": data.load_fashion_mnist}[name]
    return loader, arrays


@pytest.mark.parametrize("layout", ["flat", "image"])
def test_without_a_split_every_pair_is_aligned_and_in_file_order(data_dir, layout):
    load, arrays = data_dir
    (x_train, y_train), (x_test, y_test) = load(layout=layout)
    for x, y, split, first in ((x_train, y_train, "train", 0), (x_test, y_test, "test", N_TRAIN)):
        _assert_aligned(x, y)
        ids, _ = _decode(x)
        np.testing.assert_array_equal(ids, first + np.arange(len(x)))  # file order kept
        np.testing.assert_array_equal(y, arrays[f"y_{split}"])


@pytest.mark.parametrize("layout", ["flat", "image"])
@pytest.mark.parametrize("validation_split", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_validation_split_keeps_every_label_with_its_image(data_dir, layout, validation_split,
                                                           seed):
    load, arrays = data_dir
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load(
        layout=layout, validation_split=validation_split, seed=seed)
    for x, y in ((x_train, y_train), (x_val, y_val), (x_test, y_test)):
        _assert_aligned(x, y)
    n_val = int(round(validation_split * N_TRAIN))
    assert len(x_val) == n_val and len(x_train) == N_TRAIN - n_val
    train_ids, val_ids = _decode(x_train)[0], _decode(x_val)[0]
    # a partition of the training file: nothing lost, nothing duplicated, no test image
    assert sorted(np.concatenate([train_ids, val_ids])) == list(range(N_TRAIN))
    # each pair is the file's own pair (id -> label), not just a consistent relabelling
    np.testing.assert_array_equal(y_train, arrays["y_train"][train_ids])
    np.testing.assert_array_equal(y_val, arrays["y_train"][val_ids])
    np.testing.assert_array_equal(_decode(x_test)[0], N_TRAIN + np.arange(N_TEST))
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_validation_split_is_shuffled_not_a_prefix(data_dir):
    """The shuffle is real (so alignment above is tested on moved samples)."""
    load, _ = data_dir
    (x_train, _), (x_val, _), _ = load(validation_split=0.5, seed=0)
    val_ids = _decode(x_val)[0]
    assert sorted(val_ids) != list(range(30)) and list(val_ids) != sorted(val_ids)


def test_explicit_path_and_environment_give_the_same_aligned_split(data_dir, tmp_path):
    load, _ = data_dir
    via_env = load(validation_split=0.3, seed=5)
    via_path = load(path=tmp_path, validation_split=0.3, seed=5)
    for (xa, ya), (xb, yb) in zip(via_env, via_path, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        _assert_aligned(xb, yb)


# ---------------------------------------------------------------- DynamicBinarization


@pytest.mark.parametrize("shuffle", [True, False])
def test_dynamic_binarization_batches_pair_each_image_with_itself(shuffle):
    # binary images with a unique bit pattern each: binarization is exact, so each row
    # of a batch identifies the image it came from
    n, d = 37, 8
    ids = np.arange(n)
    x = ((ids[:, None] >> np.arange(d)) & 1).astype("float32")  # the bits of the id
    stream = data.DynamicBinarization(x, batch_size=10, shuffle=shuffle, seed=4)
    orders = []
    for _epoch in range(3):
        seen = []
        for i in range(len(stream)):
            inputs, targets = stream[i]
            np.testing.assert_array_equal(inputs, targets)  # target is the input itself
            seen.extend((inputs.astype(int) << np.arange(d)).sum(axis=1))
        assert sorted(seen) == list(range(n))  # each image exactly once per epoch
        orders.append(seen)
        stream.on_epoch_end()
    if shuffle:
        assert orders[0] != list(range(n)) and orders[0] != orders[1]
    else:
        assert orders == [list(range(n))] * 3


# ---------------------------------------------------------------- windows of a labelled series


@pytest.mark.parametrize(("window", "stride"), [(1, 1), (4, 1), (5, 2), (7, 3), (50, 7)])
def test_windows_and_their_labels_cover_the_same_steps(window, stride):
    n = 103
    steps = np.arange(n)  # the series' value is its own time index
    labels = np.zeros(n, dtype=int)
    labels[[3, 40, 41, 99]] = [1, 2, 3, 1]
    windows = anomaly.sliding_windows(steps, window, stride)
    window_labels = anomaly.window_labels(labels, window, stride)
    assert len(windows) == len(window_labels) == (n - window) // stride + 1
    for i, w in enumerate(windows):
        np.testing.assert_array_equal(w, np.arange(i * stride, i * stride + window))
        assert window_labels[i] == labels[w].max()


def test_signal_labels_mark_exactly_the_changed_steps():
    kw = dict(periods=(30,), noise_std=0.0, seed=9)
    clean, _ = anomaly.make_anomalous_signal(2000, 0, **kw)
    signal, labels = anomaly.make_anomalous_signal(2000, 5, kinds=("spike", "level_shift"), **kw)
    changed = np.abs(signal - clean) > 1e-6
    np.testing.assert_array_equal(changed, labels > 0)


# ---------------------------------------------------------------- subsets of codes and labels


def test_latent_scatter_subset_keeps_each_code_with_its_label():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    z = np.stack([labels + 0.01 * rng.normal(size=400), rng.normal(size=400)], axis=1)
    fig = plotting.plot_latent_scatter(z, labels, max_points=50, seed=3)
    points = fig.axes[0].collections[0]
    offsets, colours = np.asarray(points.get_offsets()), np.asarray(points.get_array())
    assert len(offsets) == 50
    np.testing.assert_array_equal(np.round(offsets[:, 0]), colours)  # x coordinate = label


def test_sample_conditional_decodes_each_requested_label():
    import keras

    # a "decoder" that shows its inputs: [label one-hot, z]
    z_in, y_in = keras.Input(shape=(2,)), keras.Input(shape=(3,))
    decoder = keras.Model([z_in, y_in], keras.layers.Concatenate()([y_in, z_in]))
    labels = np.array([2, 0, 1, 1, 2, 0])
    out = sample_conditional(decoder, labels, seed=1)
    np.testing.assert_array_equal(out[:, :3], np.eye(3)[labels])
    np.testing.assert_allclose(out[:, 3:], np.random.default_rng(1).standard_normal((6, 2)),
                               rtol=1e-6)
