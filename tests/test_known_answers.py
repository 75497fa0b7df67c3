"""Known answers: every aebook estimator on a degenerate case with a closed form.

Each test builds a tiny seeded input whose exact answer is known on paper (a VAE whose
posterior is the prior and whose decoder ignores z, data lying exactly in a k-dim
subspace, codes already on the quantization grid, a JPEG file of known layout, ...)
and checks the estimator against it, for every setting (k = 1 and k > 1, one and
several Monte Carlo samples, every chunk size) where a bug could hide.
"""

import math

import keras
import numpy as np
import pytest
from scipy.special import expit, logit

import aebook
from aebook import anomaly, baselines, compression, data, layers, losses, metrics

# ---------------------------------------------------------------- a VAE with a closed-form likelihood

D, LATENT = 6, 2
PIXEL_PROBS = np.array([0.1, 0.3, 0.5, 0.7, 0.9, 0.25])  # the decoder's constant output


def _gaussian_encoder(mean, log_var):
    """x -> [mean, log_var], the same for every input (zero kernels, fixed biases)."""
    inputs = keras.Input(shape=(D,))
    heads = []
    for name, bias in (("z_mean", mean), ("z_log_var", log_var)):
        dense = keras.layers.Dense(LATENT, name=name)
        heads.append(dense(inputs))
        dense.set_weights([np.zeros((D, LATENT), "float32"), np.asarray(bias, "float32")])
    return keras.Model(inputs, heads, name="encoder")


def _constant_decoder():
    """z -> PIXEL_PROBS whatever z is: p(x|z) = p(x), so log p(x) has a closed form."""
    latent = keras.Input(shape=(LATENT,))
    dense = keras.layers.Dense(D, activation="sigmoid", name="reconstruction")
    decoder = keras.Model(latent, dense(latent), name="decoder")
    dense.set_weights([np.zeros((LATENT, D), "float32"), logit(PIXEL_PROBS).astype("float32")])
    return decoder


@pytest.fixture(scope="module")
def decoder():
    return _constant_decoder()


@pytest.fixture(scope="module")
def x_bits():
    """Four binary 'images' of D pixels, all different."""
    return np.array([[0, 1, 0, 1, 1, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0],
                     [1, 0, 1, 0, 0, 1]], "float32")


def _exact_neg_log_px(decoder, x):
    """-log p(x) = -sum_d [x log p + (1 - x) log(1 - p)] for the constant decoder."""
    p = decoder.predict(np.zeros((1, LATENT), "float32"), verbose=0)[0].astype("float64")
    np.testing.assert_allclose(p, PIXEL_PROBS, rtol=1e-6)  # the decoder is what we think
    x = x.astype("float64")
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)


def _closed_form_kl(mean, log_var):
    mean, log_var = np.asarray(mean, "float64"), np.asarray(log_var, "float64")
    return 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var)


@pytest.mark.parametrize("k", [1, 2, 7, 100])
@pytest.mark.parametrize("batch_size", [5000, 7])  # 7 // k rows per chunk: 7, 3, 1, 1
def test_iwae_is_exact_for_every_k_when_q_is_the_prior_and_the_decoder_is_constant(
        decoder, x_bits, k, batch_size):
    # every importance weight is p(x|z) p(z) / q(z|x) = p(x): -log mean(w) = -log p(x)
    encoder = _gaussian_encoder([0.0, 0.0], [0.0, 0.0])
    expected = _exact_neg_log_px(decoder, x_bits)
    got = metrics.iwae_negative_log_likelihood(encoder, decoder, x_bits, k=k, seed=3,
                                               batch_size=batch_size)
    assert got.shape == (4,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert len(set(np.round(expected, 6))) == 4  # four different answers, no lucky constant


def _chi2_plus_one(mean, std):
    """E_q[(p/q)^2] = int p^2 / q for p = N(0, I), q = N(mean, diag(std^2)), std^2 > 1/2."""
    mean, std = np.asarray(mean, "float64"), np.asarray(std, "float64")
    a = 1.0 - 1.0 / (2 * std**2)
    return float(np.prod(std / np.sqrt(2 * a) * np.exp(mean**2 / (4 * a * std**4)
                                                           + mean**2 / (2 * std**2))))


def test_iwae_converges_to_the_exact_value_when_q_differs_from_the_prior(decoder, x_bits):
    # constant decoder: w_i = p(x) * p(z_i) / q(z_i|x), and E_q[p/q] = 1, so
    # -log mean(w) = -log p(x) - log mean(p/q): unbiased to O(var / k), with var the
    # chi-square divergence below (delta method; q wider than the prior in every
    # dimension keeps p/q bounded). A bound without log p(z) - log q(z), with p and q
    # swapped, or the ELBO (mean of log w) is off by about KL = 0.30 nats or more.
    mean, std = np.array([0.5, -0.4]), np.array([1.1, 1.3])
    log_var = 2 * np.log(std)
    encoder = _gaussian_encoder(mean, log_var)
    k = 16384
    var = _chi2_plus_one(mean, std) - 1.0
    assert 0.1 < var < 1.0
    tolerance = var / (2 * k) + 5 * math.sqrt(var / k)  # bias + 5 standard deviations
    kl = _closed_form_kl(mean, log_var)
    assert kl > 4 * tolerance  # the check can tell the IWAE bound from the ELBO
    expected = _exact_neg_log_px(decoder, x_bits)
    got = metrics.iwae_negative_log_likelihood(encoder, decoder, x_bits, k=k, seed=4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("n_samples", [1, 3])
def test_negative_elbo_is_exact_for_any_posterior_when_the_decoder_is_constant(
        decoder, x_bits, n_samples):
    # E_q[-log p(x|z)] does not depend on z, so -ELBO = -log p(x) + KL(q || p), exactly
    mean, log_var = np.array([0.5, -1.0]), np.array([-0.7, 0.4])
    encoder = _gaussian_encoder(mean, log_var)
    kl = _closed_form_kl(mean, log_var)
    assert kl == pytest.approx(0.5 * (math.exp(-0.7) + math.exp(0.4) + 0.25 + 1 - 2 + 0.7 - 0.4))
    exact = _exact_neg_log_px(decoder, x_bits)
    got = metrics.vae_negative_elbo(encoder, decoder, x_bits, n_samples=n_samples, seed=1,
                                    batch_size=3)
    np.testing.assert_allclose(got, exact + kl, rtol=1e-6)
    rec, kl_term = metrics.vae_elbo_terms(encoder, decoder, x_bits, n_samples=n_samples, seed=1)
    np.testing.assert_allclose(rec, exact, rtol=1e-6)
    np.testing.assert_allclose(kl_term, kl, rtol=1e-6)


def test_negative_elbo_equals_iwae_when_q_is_the_prior(decoder, x_bits):
    encoder = _gaussian_encoder([0.0, 0.0], [0.0, 0.0])
    exact = _exact_neg_log_px(decoder, x_bits)
    np.testing.assert_allclose(metrics.vae_negative_elbo(encoder, decoder, x_bits, n_samples=4),
                               exact, rtol=1e-6)


def test_gaussian_kl_known_mean_and_variance():
    # KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1 - ln s^2) / 2, summed over dimensions:
    # mu = (2, 0), s^2 = (1, e): (0 + 4 - 0) / 2 + (e - 1 - 1) / 2 = 2 + (e - 2) / 2
    mean = np.array([[2.0, 0.0], [0.0, 0.0]], "float32")
    log_var = np.array([[0.0, 1.0], [0.0, 0.0]], "float32")
    got = keras.ops.convert_to_numpy(layers.gaussian_kl(keras.ops.convert_to_tensor(mean),
                                                        keras.ops.convert_to_tensor(log_var)))
    np.testing.assert_allclose(got, [2.0 + (math.e - 2.0) / 2, 0.0], rtol=1e-6, atol=1e-7)


def test_numpy_gaussian_kl_known_mean_and_variance_and_agreement_with_the_layer():
    mean = np.array([[2.0, 0.0], [0.0, 0.0], [0.5, -1.0]])
    log_var = np.array([[0.0, 1.0], [0.0, 0.0], [-0.7, 0.4]])
    got = metrics.gaussian_kl(mean, log_var)
    np.testing.assert_allclose(got[:2], [2.0 + (math.e - 2.0) / 2, 0.0], rtol=1e-12, atol=0)
    assert got[2] == pytest.approx(_closed_form_kl(mean[2], log_var[2]), rel=1e-12)
    as_layer = keras.ops.convert_to_numpy(layers.gaussian_kl(
        keras.ops.convert_to_tensor(mean, "float32"), keras.ops.convert_to_tensor(log_var, "float32")))
    np.testing.assert_allclose(as_layer, got, rtol=1e-5)


def test_active_units_of_constructed_codes():
    # columns with variances 1/3 (uniform on [-1, 1]), 0.02, 0.005 and 0 (constant)
    t = np.linspace(-1, 1, 201)
    z = np.stack([t, np.sqrt(0.06) * t, np.sqrt(0.015) * t, np.full_like(t, 0.5)], axis=1)
    variances = z.var(axis=0)
    assert variances[1] > 0.01 > variances[2] > 0 == variances[3]
    assert metrics.active_units(z) == 2  # threshold 0.01: the first two
    assert metrics.active_units(z, threshold=0.0) == 3  # every non-constant column
    assert metrics.active_units(z, threshold=0.5) == 0
    assert metrics.active_units(z[:, ::-1]) == 2  # the order of the columns does not matter


def test_set_psnr_of_known_errors():
    # errors 0.1 and 0 on every pixel: set MSE = (0.01 + 0) / 2, so 10 log10(200)
    x = np.full((2, 8), 0.5)
    x_hat = x + np.array([[0.1], [0.0]])
    assert metrics.set_psnr(x, x_hat) == pytest.approx(10 * math.log10(200), rel=1e-9)
    assert metrics.set_psnr(x, x) == math.inf
    assert metrics.set_psnr(x * 255, x_hat * 255, data_range=255) == pytest.approx(
        10 * math.log10(200), rel=1e-9)


def test_linear_probe_on_separable_and_on_shuffled_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    features = np.eye(3)[y] * 5 + rng.normal(scale=0.1, size=(300, 3))  # one-hot + noise
    assert metrics.linear_probe_accuracy(features[:200], y[:200], features[200:], y[200:]) == 1.0
    # the same features with their labels permuted carry no label information
    shuffled = rng.permutation(y[:200])
    assert metrics.linear_probe_accuracy(features[:200], shuffled, features[200:], y[200:]) < 0.6


# ---------------------------------------------------------------- per-sample reconstruction metrics


def test_psnr_of_a_known_error_per_sample():
    # constant error e on every pixel: MSE = e^2, PSNR = 10 log10(R^2 / e^2) = 20 log10(R / e)
    x = np.full((3, 16), 0.5)
    errors = np.array([0.1, 0.01, 0.25])
    got = metrics.psnr(x, x + errors[:, None])
    np.testing.assert_allclose(got, 20 * np.log10(1.0 / errors), rtol=1e-9)
    np.testing.assert_allclose(got, [20.0, 40.0, 20 * math.log10(4.0)], rtol=1e-9)
    # the same images on the 0-255 scale have the same PSNR
    np.testing.assert_allclose(metrics.psnr(x * 255, (x + errors[:, None]) * 255, data_range=255),
                               got, rtol=1e-9)


def test_ssim_identical_images_and_the_data_range():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(2, 16, 16))
    b = np.clip(a + rng.normal(scale=0.2, size=a.shape), 0, 1)
    np.testing.assert_allclose(metrics.ssim(a, a), 1.0, rtol=1e-12)
    scaled = metrics.ssim(a * 255, b * 255, data_range=255)
    np.testing.assert_allclose(scaled, metrics.ssim(a, b), rtol=1e-9)  # SSIM is scale-free
    assert np.all(metrics.ssim(a, b) < 0.9)


def test_bce_of_a_known_prediction_and_its_relation_to_the_keras_loss():
    # p = 1/2 everywhere: ln 2 per pixel, whatever the targets
    x = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    half = np.full_like(x, 0.5)
    np.testing.assert_allclose(metrics.per_sample_bce(x, half), math.log(2), rtol=1e-12)
    np.testing.assert_allclose(metrics.per_sample_bce(x, half, reduction="sum"), 4 * math.log(2),
                               rtol=1e-12)
    # the Keras loss used for training is the per-image sum of the NumPy metric
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, size=(3, 10))
    t = (rng.random((3, 10)) > 0.5).astype("float64")
    keras_sum = keras.ops.convert_to_numpy(
        losses.sum_binary_crossentropy(t.astype("float32"), p.astype("float32")))
    np.testing.assert_allclose(keras_sum, metrics.per_sample_bce(t, p, "sum"), rtol=1e-5)
    keras_se = keras.ops.convert_to_numpy(
        losses.sum_squared_error(t.astype("float32"), p.astype("float32")))
    np.testing.assert_allclose(keras_se, metrics.per_sample_squared_error(t, p), rtol=1e-5)


def test_correlation_of_affine_copies_is_plus_or_minus_one():
    x = np.random.default_rng(2).uniform(size=(2, 9))
    np.testing.assert_allclose(metrics.per_sample_correlation(x, 0.5 * x + 0.2), 1.0, rtol=1e-12)
    np.testing.assert_allclose(metrics.per_sample_correlation(x, 1.0 - x), -1.0, rtol=1e-12)


def test_gradient_sharpness_of_a_single_edge():
    # an 4 x 6 image, left half 0 and right half 1: one jump of 1 in each of the 4 rows
    img = np.zeros((1, 4, 6))
    img[0, :, 3:] = 1.0
    np.testing.assert_allclose(metrics.gradient_sharpness(img), [4 / 24], rtol=1e-12)
    np.testing.assert_allclose(metrics.gradient_sharpness(img.transpose(0, 2, 1)), [4 / 24])
    assert metrics.gradient_sharpness(np.full((1, 4, 4), 0.3))[0] == 0.0


def test_jacobian_and_sensitivity_of_a_scaled_identity_encoder():
    # h = 3 x: ||J||_F = 3 sqrt(D), and every perturbation moves the code 3 times as far
    d = 5
    inputs = keras.Input(shape=(d,))
    dense = keras.layers.Dense(d, use_bias=False)
    encoder = keras.Model(inputs, dense(inputs))
    dense.set_weights([3 * np.eye(d, dtype="float32")])
    x = np.random.default_rng(3).uniform(size=(4, d))
    np.testing.assert_allclose(metrics.jacobian_frobenius_norm(encoder, x), 3 * math.sqrt(d),
                               rtol=1e-4)
    np.testing.assert_allclose(metrics.code_sensitivity(encoder, x, sigma=0.1), 3.0, rtol=1e-4)


# ---------------------------------------------------------------- PCA


@pytest.fixture(scope="module")
def subspace_data():
    """Data that lies EXACTLY in a 3-dim affine subspace of R^10 (mean + 3 directions)."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(10, 3)))
    codes = rng.normal(scale=0.1, size=(80, 3))
    return 0.5 + codes @ basis.T  # values within about [0.1, 0.9]


def test_pca_reconstructs_data_in_a_k_dim_subspace_exactly(subspace_data):
    train, test = subspace_data[:60], subspace_data[60:]
    assert train.min() > 0 and train.max() < 1  # clipping cannot matter
    x_hat, _ = baselines.pca_reconstruct(train, test, n_components=3)
    np.testing.assert_allclose(x_hat, test, atol=1e-6)  # float32 output
    two, _ = baselines.pca_reconstruct(train, test, n_components=2)
    assert np.mean((two - test) ** 2) > 1e-4  # one dimension short: a real error
    errors = baselines.pca_reconstruction_errors(train, test, [1, 2, 3, 4])
    assert errors[0] > errors[1] > 1e-4 and errors[2] < 1e-12 and errors[3] < 1e-12
    pca = baselines.fit_pca(train, 4)
    np.testing.assert_allclose(baselines.pca_project(pca, test, 3), test, atol=1e-6)
    assert pca.explained_variance_[3] < 1e-12 * pca.explained_variance_[0]


# ---------------------------------------------------------------- anomaly detection


def test_threshold_rules_on_known_errors():
    errors = np.array([1.0, 3.0])  # mean 2, population standard deviation 1
    assert anomaly.mean_std_threshold(errors, 2.0) == pytest.approx(4.0)
    assert anomaly.max_threshold(errors) == 3.0
    # linear interpolation between order statistics: the 25th percentile of 0..4 is 1
    assert anomaly.percentile_threshold(np.arange(5.0), 25) == pytest.approx(1.0)
    assert anomaly.percentile_threshold(np.arange(5.0), 0) == 0.0


def test_detection_rates_on_a_known_ranking():
    # anomalies score 5..9, normals 0..4: every threshold in [4, 5) separates them perfectly
    scores = np.arange(10.0)
    is_anomaly = scores >= 5
    assert anomaly.detection_rates(scores, is_anomaly, 4.5) == (0.0, 1.0)
    assert anomaly.detection_rates(scores, is_anomaly, 4.0) == (0.0, 1.0)  # 4 is not > 4
    assert anomaly.detection_rates(scores, is_anomaly, 5.0) == (0.0, 0.8)  # nor is 5 > 5
    assert anomaly.detection_rates(scores, is_anomaly, -1.0) == (1.0, 1.0)
    assert anomaly.detection_rates(scores, is_anomaly, 9.0) == (0.0, 0.0)
    report = anomaly.threshold_report(train_errors=[0.0, 4.0], val_errors=[0.0, 1.0, 2.0, 3.0],
                                      scores=scores, is_anomaly=is_anomaly, q=100, k=0)
    assert report["max"] == {"threshold": 4.0, "false_positive_rate": 0.0, "detection_rate": 1.0}
    assert report["percentile"]["threshold"] == 3.0
    assert report["percentile"]["false_positive_rate"] == pytest.approx(0.2)  # only the 4
    assert report["mean_std"]["threshold"] == pytest.approx(1.5)
    assert report["mean_std"]["false_positive_rate"] == pytest.approx(0.6)  # 2, 3, 4


def test_score_curves_report_the_auroc_and_ap_of_a_known_ranking():
    import matplotlib

    matplotlib.use("Agg")
    y = np.array([0, 0, 0, 1, 1])
    perfect = np.array([0.1, 0.2, 0.3, 0.8, 0.9])  # every anomaly above every normal
    # one anomaly (0.25) ranked below two normals: AUROC = 4/6 pairs ordered right;
    # AP = mean precision at each anomaly's rank: (1/1 + 2/4) / 2 = 0.75
    partial = np.array([0.1, 0.3, 0.4, 0.25, 0.9])
    fig = anomaly.plot_score_curves({"perfect": (y, perfect), "reversed": (y, -perfect),
                                     "partial": (y, partial)})
    roc, pr = fig.axes
    assert [t.get_text() for t in roc.get_legend().get_texts()] == [
        "perfect (AUROC 1.000)", "reversed (AUROC 0.000)", "partial (AUROC 0.667)"]
    assert [t.get_text() for t in pr.get_legend().get_texts()][0::2] == [
        "perfect (AP 1.000)", "partial (AP 0.750)"]


def test_window_count_and_labels_of_a_known_series():
    windows = anomaly.sliding_windows(np.arange(11), window=4, stride=3)
    np.testing.assert_array_equal(windows, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    labels = np.zeros(11, int)
    labels[[3, 10]] = [2, 1]
    np.testing.assert_array_equal(anomaly.window_labels(labels, 4, 3), [2, 2, 0])


# ---------------------------------------------------------------- compression


def test_uniform_quantize_reproduces_codes_on_the_grid_exactly():
    # 2 bits on [0, 3] (and [-1, 0.5]): the 4 levels are 0, 1, 2, 3 (and -1, -0.5, 0, 0.5)
    z = np.array([[0.0, -1.0], [1.0, -0.5], [2.0, 0.0], [3.0, 0.5]])
    np.testing.assert_array_equal(compression.uniform_quantize(z, 2), z)
    # off-grid values go to the NEAREST level, out-of-range ones to the end levels
    got = compression.uniform_quantize(np.array([[1.4], [1.6], [-7.0], [9.0]]), 2, low=0, high=3)
    np.testing.assert_array_equal(got, [[1.0], [2.0], [0.0], [3.0]])
    # 1 bit: two levels, the ends of the range
    np.testing.assert_array_equal(compression.uniform_quantize(z, 1), [[0, -1], [0, -1], [3, 0.5],
                                                                       [3, 0.5]])


def test_jpeg_payload_of_a_file_of_known_layout():
    # SOI, a 6-byte APP0 segment, SOS with a 12-byte header, 5 bytes of scan data, EOI
    header = b"\xff\xd8" + b"\xff\xe0\x00\x04ab"
    sos = b"\xff\xda\x00\x0c" + bytes(10)
    jpeg = header + sos + b"\x11\x22\x33\x44\x55" + b"\xff\xd9"
    assert compression._jpeg_payload_bytes(jpeg) == 5


def test_jpeg_sizes_are_the_sizes_of_the_real_files():
    import io

    from PIL import Image

    x = np.random.default_rng(5).uniform(size=(2, 64))
    x_hat, file_bytes, payload = compression.jpeg_roundtrip(x, 75, image_shape=(8, 8))
    for i in range(2):
        buffer = io.BytesIO()
        pixels = np.round(x[i] * 255).astype("uint8").reshape(8, 8)
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=75)
        raw = buffer.getvalue()
        assert file_bytes[i] == len(raw)
        end = raw.rindex(b"\xff\xd9")
        start = raw.index(b"\xff\xda") + 2 + int.from_bytes(raw[raw.index(b"\xff\xda") + 2:][:2], "big")
        assert payload[i] == end - start
        np.testing.assert_array_equal(x_hat[i], np.asarray(Image.open(buffer), "float32").ravel() / 255)


# ---------------------------------------------------------------- data corruption and binarization


def test_occlusion_zeroes_exactly_one_block_of_the_known_side():
    x = np.ones((5, 10, 10), "float32")
    out = data.corrupt(x, "occlusion", 0.3, seed=0)  # side round(0.3 * 10) = 3
    assert np.all((out == 0).sum(axis=(1, 2)) == 9)
    for image in out:
        rows, cols = np.nonzero(image == 0)
        assert np.ptp(rows) == 2 and np.ptp(cols) == 2  # one 3 x 3 square


def test_blur_keeps_a_constant_image_and_level_zero_is_the_identity():
    x = np.full((2, 8, 8), 0.4, "float32")
    np.testing.assert_allclose(data.corrupt(x, "blur", 1.5), x, rtol=1e-6)
    y = np.random.default_rng(0).uniform(size=(2, 8, 8)).astype("float32")
    np.testing.assert_array_equal(data.corrupt(y, "blur", 0.0), y)


def test_dynamic_binarization_of_binary_images_is_exact():
    # grey levels 0 and 1 are certain Bernoulli draws: every batch is its images themselves
    x = (np.random.default_rng(0).random((10, 12)) > 0.5).astype("float32")
    stream = data.DynamicBinarization(x, batch_size=4, shuffle=False, seed=0)
    batches = [stream[i][0] for i in range(len(stream))]
    np.testing.assert_array_equal(np.concatenate(batches), x)


# ---------------------------------------------------------------- sampling helpers, seeds


def test_sample_prior_through_an_identity_decoder_gives_the_seeded_normal_draws():
    latent = keras.Input(shape=(3,))
    identity = keras.Model(latent, latent)
    z = aebook.models.sample_prior(identity, 5, seed=11)
    np.testing.assert_allclose(z, np.random.default_rng(11).standard_normal((5, 3)), rtol=1e-6)


def test_init_output_bias_makes_a_zero_code_decode_to_the_mean():
    x = np.random.default_rng(0).uniform(0.2, 0.8, size=(50, D))
    decoder = _constant_decoder()
    bias = aebook.models.init_output_bias(decoder, x)
    np.testing.assert_allclose(expit(bias.astype("float64")), x.mean(axis=0), rtol=1e-5)
    out = decoder.predict(np.zeros((1, LATENT), "float32"), verbose=0)[0]
    np.testing.assert_allclose(out, x.mean(axis=0), rtol=1e-5)


def test_kl_annealing_schedule_known_values():
    schedule = aebook.callbacks.KLAnnealing(beta_end=1.0, warmup_epochs=4, beta_start=0.2)
    got = [schedule.beta_at(e) for e in range(7)]
    np.testing.assert_allclose(got, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])


def test_set_seed_returns_the_environment_seed_and_seeds_numpy(monkeypatch):
    monkeypatch.setenv("AEBOOK_SEED", "123")
    assert aebook.set_seed(7) == 123
    first = np.random.random(3)
    np.random.seed(123)
    np.testing.assert_array_equal(first, np.random.random(3))
