"""Plots in one book style; every function returns the matplotlib `Figure`."""

import matplotlib.pyplot as plt
import numpy as np

from aebook import validation as v

BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "image.cmap": "gray",
}


def use_book_style():
    """Applies the book's matplotlib style (`BOOK_STYLE`) globally."""
    plt.rcParams.update(BOOK_STYLE)


_COLOUR_CHANNELS = (3, 4)


def _to_images(x, image_shape, name="images"):
    """Returns `x` as displayable images: (N, H, W) grey or (N, H, W, 3 or 4) colour.

    `image_shape=None` infers the shape: (N, H, W) and (N, H, W, C) arrays keep
    theirs, flat (N, D) arrays are taken as square grey images. A given
    `image_shape` of (H, W) also fits colour images of H x W x C values.
    """
    x = v.not_pixels_0_255(name, x)  # imshow shows [0, 1]; 0-255 would be all white
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty array of images (N, ...). "
                         f"Received: {name}.shape={x.shape}")
    size = int(np.prod(x.shape[1:]))
    if image_shape is None:
        if x.ndim == 2:
            side = int(round(np.sqrt(size)))
            if side * side != size:
                raise ValueError(
                    f"flat images must be square unless image_shape is given. "
                    f"Received: {name}.shape={x.shape}, image_shape=None")
            shape = (side, side)
        else:
            shape = x.shape[1:]
    else:
        shape = v.positive_int_tuple("image_shape", image_shape)
        if int(np.prod(shape)) != size:
            channels = x.shape[-1] if x.ndim == 4 else size // max(1, int(np.prod(shape)))
            if len(shape) == 2 and int(np.prod(shape)) * channels == size:
                shape = (*shape, channels)
            else:
                raise ValueError(
                    f"each image must have prod(image_shape) values. Received: "
                    f"image_shape={tuple(image_shape)}, {name}.shape={x.shape}")
    if len(shape) == 3 and shape[-1] == 1:
        shape = shape[:2]
    if len(shape) != 2 and not (len(shape) == 3 and shape[-1] in _COLOUR_CHANNELS):
        raise ValueError(
            f"images must be grey (H, W) or (H, W, 1), or colour (H, W, 3 or 4). "
            f"Received: {name}.shape={x.shape}, image_shape={image_shape}")
    return x.reshape(len(x), *shape)


def _show(ax, image):
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    else:  # colour: matplotlib expects floats in [0, 1]
        ax.imshow(np.clip(image.astype("float64"), 0.0, 1.0))


def plot_image_rows(rows, row_labels=None, n=10, image_shape=None, scale=1.0):
    """Shows the first `n` images of several arrays, one array per row.

    Args:
        rows: list of arrays (N, ...) of images with values in [0, 1], grey or
            colour (e.g. the output of a convolutional autoencoder on RGB images).
        row_labels: optional list of row titles.
        n: images per row; if a row holds fewer, every row shows as many images
            as the shortest row holds.
        image_shape: shape of one image for display, e.g. (28, 28) or
            (32, 32, 3); None infers it (flat rows are taken as square grey images).
        scale: size of each image in inches.

    Returns:
        The `Figure`.

    Raises:
        ValueError: for a bad `n`, an empty row, or images that do not fit
            `image_shape`.
    """
    n = v.positive_int("n", n)
    if not isinstance(rows, (list, tuple)) or not rows:
        v.fail("rows", "a non-empty list of image arrays", rows)
    rows = [_to_images(images, image_shape, name=f"rows[{r}]") for r, images in enumerate(rows)]
    n = min(n, *(len(images) for images in rows))
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, scale * len(rows) + 0.3),
                             squeeze=False)
    for r, images in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            _show(ax, images[c])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.2)
    return fig


def plot_reconstructions(x, x_hat, n=10, image_shape=None, labels=("original", "reconstruction")):
    """Originals (top row) above their reconstructions (bottom row).

    Args:
        x: originals, (N, ...).
        x_hat: reconstructions, same shape.
        n: number of images (at most the number of images given).
        image_shape: display shape of one image (None infers it, see
            `plot_image_rows`).
        labels: the two row titles.

    Returns:
        The `Figure`.
    """
    return plot_image_rows([x, x_hat], list(labels), n=n, image_shape=image_shape)


def plot_image_grid(images, ncols=10, image_shape=None, title=None, scale=0.8):
    """Shows images in a grid with `ncols` columns (e.g. samples of a VAE).

    Args:
        images: array (N, ...) of grey or colour images with values in [0, 1].
        ncols: images per grid row; empty cells of the last row stay white.
        image_shape: display shape of one image, e.g. (28, 28) or (32, 32, 3);
            None infers it (flat images are taken as square grey images).
        title: optional title.
        scale: size of each image in inches.

    Returns:
        The `Figure`.

    Raises:
        ValueError: for a bad `ncols`, no images, or images that do not fit
            `image_shape`.
    """
    images = _to_images(images, image_shape)
    ncols = v.positive_int("ncols", ncols)
    nrows = int(np.ceil(len(images) / ncols))
    h, w = images.shape[1:3]
    canvas = np.ones((nrows * h, ncols * w, *images.shape[3:]))
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    fig, ax = plt.subplots(figsize=(scale * ncols, scale * nrows + (0.3 if title else 0)))
    _show(ax, canvas)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.2)
    return fig


def plot_latent_scatter(z, labels, title=None, ax=None, max_points=5000, seed=0, s=3):
    """Scatter of 2-D codes coloured by class label (one colour per digit).

    Args:
        z: codes of shape (N, 2).
        labels: integer labels of shape (N,).
        title: optional axes title.
        ax: optional existing axes to draw in.
        max_points: at most this many points (a seeded random subset) are drawn.
        seed: seed of that subset.
        s: marker size.

    Returns:
        The `Figure`.

    Raises:
        ValueError: if the codes are not 2-D.
    """
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (N, 2). Received: z.shape={z.shape}")
    labels = np.asarray(labels)
    idx = np.arange(len(z))
    max_points = v.positive_int("max_points", max_points)
    seed = v.seed("seed", seed)
    if len(z) > max_points:
        idx = np.random.default_rng(seed).choice(len(z), max_points, replace=False)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    points = ax.scatter(z[idx, 0], z[idx, 1], c=labels[idx], cmap="tab10", s=s,
                        vmin=-0.5, vmax=9.5, alpha=0.8, linewidths=0)
    fig.colorbar(points, ax=ax, ticks=range(10), label="label")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def plot_latent_manifold(decoder, n=15, limits=None, image_shape=None, title=None):
    """Decodes an n x n grid of 2-D codes and tiles the images.

    Args:
        decoder: a decoder with 2-D input.
        n: grid points per axis.
        limits: None spaces the grid by Gaussian quantiles (5% to 95%, as in
            Kingma & Welling's figures, right for a VAE's N(0, I) prior); or
            `((x_min, x_max), (y_min, y_max))` for a linear grid (e.g. the range of
            a plain autoencoder's codes).
        image_shape: display shape of one image (None infers it from the
            decoder's output).
        title: optional title.

    Returns:
        The `Figure`.
    """
    from scipy.stats import norm

    n = v.positive_int("n", n)
    if limits is None:
        gx = gy = norm.ppf(np.linspace(0.05, 0.95, n))
    else:
        gx = np.linspace(*limits[0], n)
        gy = np.linspace(*limits[1], n)
    codes = np.array([[x, y] for y in gy[::-1] for x in gx], dtype="float32")
    images = decoder.predict(codes, verbose=0)
    fig = plot_image_grid(images, ncols=n, image_shape=image_shape, title=title, scale=0.45)
    return fig


def plot_history(history, keys=None, title=None, log_scale=False, ax=None):
    """Training curves from a Keras `History` (or its `.history` dict).

    Args:
        history: `keras.callbacks.History` or dict of metric name -> list.
        keys: metric names to plot (default: all of them).
        title: optional title.
        log_scale: log-scaled y axis.
        ax: optional existing axes.

    Returns:
        The `Figure`.
    """
    hist = getattr(history, "history", history)
    keys = list(hist) if keys is None else list(keys)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    else:
        fig = ax.figure
    for key in keys:
        values = hist[key]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


_GROUP_COLORS = {"encoder": "#4c72b0", "decoder": "#dd8452"}
_SIZE_SCALES = ("linear", "sqrt", "log")


def _architecture_rows(model, group=None):
    """(group, layer) pairs in order; nested models are expanded, their inputs dropped."""
    import keras

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = _architecture_rows(layer, group=layer.name)
            rows += [r for r in inner if not isinstance(r[1], keras.layers.InputLayer)]
        else:
            rows.append((group, layer))
    return rows


def _layer_shapes(layer):
    """Output shapes without the batch axis (a list: some layers have several outputs)."""
    try:
        outputs = layer.output
    except (AttributeError, ValueError):  # a layer that was never called
        return []
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [tuple(t.shape[1:]) for t in outputs]


def plot_architecture(model, size_scale="sqrt", title=None, ax=None):
    """Draws a model's layers left to right as boxes sized by their output size.

    Nested models (the `encoder` and `decoder` inside an autoencoder) are expanded
    and their layers coloured by the model they belong to; the code layer
    (named `"code"`) is outlined. Each box is labelled with the layer's name, its
    output shape without the batch axis, its activation (if any) and its number
    of parameters. Layers are drawn as a chain in the order Keras lists them, so
    a branching model (e.g. a VAE's two heads) appears as a sequence.

    Args:
        model: a built `keras.Model` (functional or sequential).
        size_scale: how a box's height grows with the number of values the layer
            outputs: `"linear"`, `"sqrt"` (default; keeps a 32-unit bottleneck
            visible next to 784 pixels) or `"log"`.
        title: optional title; default: the model's name and parameter count.
        ax: optional existing axes to draw in.

    Returns:
        The `Figure`.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
        ValueError: if `size_scale` is unknown.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model. Received: model={model!r}")
    v.choice("size_scale", size_scale, _SIZE_SCALES)
    rows = _architecture_rows(model)
    sizes = []
    for _, layer in rows:
        shapes = _layer_shapes(layer)
        sizes.append(float(sum(np.prod(s) for s in shapes)) if shapes else 1.0)
    transform = {"linear": lambda s: s, "sqrt": np.sqrt, "log": lambda s: np.log1p(s)}[size_scale]
    heights = np.array([transform(s) for s in sizes])
    heights = 0.1 + 0.9 * heights / heights.max()
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 1.35 * len(rows)), 3.6))
    else:
        fig = ax.figure
    width = 0.5
    for i, ((group, layer), h) in enumerate(zip(rows, heights, strict=True)):
        color = _GROUP_COLORS.get(group, "#8c8c8c")
        is_code = layer.name == "code"
        ax.add_patch(plt.Rectangle((i - width / 2, -h / 2), width, h, facecolor=color,
                                   edgecolor="black" if is_code else color,
                                   linewidth=2.0 if is_code else 0.5, alpha=0.85,
                                   label=layer.name))
        if i > 0:
            ax.annotate("", xy=(i - width / 2, 0), xytext=(i - 1 + width / 2, 0),
                        arrowprops={"arrowstyle": "->", "color": "0.3"})
        shapes = _layer_shapes(layer)
        lines = [layer.name, ", ".join("x".join(str(d) for d in s) for s in shapes) or "?"]
        act = getattr(layer, "activation", None)
        if act is not None:
            lines.append(getattr(act, "__name__", str(act)))
        n_params = layer.count_params()
        lines.append(f"{n_params:,} param{'' if n_params == 1 else 's'}")
        ax.text(i, -0.56, "\n".join(lines), ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(-1.05, 0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    groups = [g for g in _GROUP_COLORS if any(r[0] == g for r in rows)]
    if groups:
        handles = [plt.Rectangle((0, 0), 1, 1, color=_GROUP_COLORS[g]) for g in groups]
        ax.legend(handles, groups, loc="upper center", ncol=len(groups))
    ax.set_title(title if title is not None
                 else f"{model.name}: {model.count_params():,} parameters")
    fig.tight_layout()
    return fig


def plot_features(weights, n=64, ncols=16, image_shape=(28, 28), title=None, scale=0.5):
    """Shows learned features (rows of a weight matrix) as images, e.g. filters.

    Each feature is scaled by its own largest absolute weight, so mid-grey is 0,
    white the most positive and black the most negative weight (signs matter,
    magnitudes are per feature). Tiles are separated by a one-pixel white border.
    For a dense decoder pass the kernel of its first layer, shape
    (latent_dim, input_dim): row j is what code unit j adds to the output. For a
    dense encoder pass the transposed kernel, `kernel.T`, shape
    (latent_dim, input_dim): row j is the template unit j responds to.

    Args:
        weights: array of shape (n_features, prod(image_shape)) (or
            `(n_features, *image_shape)`); one feature per row.
        n: number of features to show (the first `n` rows; at most n_features).
        ncols: tiles per row.
        image_shape: display shape of one feature.
        title: optional title.
        scale: size of each tile in inches.

    Returns:
        The `Figure`.

    Raises:
        ValueError: for a bad `n` or `ncols`, or weights whose rows do not have
            prod(image_shape) entries.
    """
    n = v.positive_int("n", n)
    ncols = v.positive_int("ncols", ncols)
    w = np.asarray(weights, dtype="float64")
    size = int(np.prod(image_shape))
    if w.ndim < 2 or w[0].size != size:
        raise ValueError(
            f"weights must have shape (n_features, {size}) for image_shape={tuple(image_shape)}. "
            f"Received: weights.shape={w.shape}"
        )
    w = w.reshape(len(w), size)[:n]
    peak = np.abs(w).max(axis=1, keepdims=True)
    tiles = 0.5 + 0.5 * w / np.where(peak > 0, peak, 1.0)
    ncols = min(ncols, len(tiles))
    nrows = int(np.ceil(len(tiles) / ncols))
    h, wd = image_shape
    canvas = np.ones((nrows * (h + 1) - 1, ncols * (wd + 1) - 1))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (wd + 1):c * (wd + 1) + wd] = tile.reshape(h, wd)
    fig, ax = plt.subplots(figsize=(scale * ncols, scale * nrows + (0.3 if title else 0)))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.2)
    return fig


def plot_score_curves(curves, title=None):
    """ROC and precision-recall curves of several anomaly scores, side by side.

    Args:
        curves: dict mapping a label (e.g. `"autoencoder"`) to a tuple
            `(is_anomaly, scores)`; each curve is computed with scikit-learn's
            `roc_curve` and `precision_recall_curve`, and the legend shows its
            AUROC and average precision (AP).
        title: optional figure title.

    Returns:
        The `Figure`.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    if not isinstance(curves, dict) or not curves:
        v.fail("curves", "a non-empty dict of label -> (is_anomaly, scores)", curves)
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(8, 3.4))
    for label, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        precision, recall, _ = precision_recall_curve(y, s)
        ax_roc.plot(fpr, tpr, label=f"{label} (AUROC {roc_auc_score(y, s):.3f})")
        ax_pr.plot(recall, precision, label=f"{label} (AP {average_precision_score(y, s):.3f})")
        ax_pr.axhline(np.mean(y), ls=":", lw=0.8, color=ax_pr.lines[-1].get_color())
    ax_roc.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey")
    ax_roc.set(xlabel="false-positive rate", ylabel="detection rate (TPR)", title="ROC")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    ax_roc.legend(loc="lower right")
    ax_pr.legend(loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_neighbours(query_images, database_images, neighbours, n=8, row_labels=None,
                    query_labels=None, database_labels=None, image_shape=None, scale=0.7):
    """Retrieval results: one row per query, the query first, then its neighbours.

    With labels, every neighbour whose label differs from its query's gets a red
    frame, so retrieval errors stand out.

    Args:
        query_images: array (R, ...) of images in [0, 1]: the query of each row (a
            query may appear on several rows, e.g. once per representation).
        database_images: array (N, ...) of images in [0, 1].
        neighbours: int array (R, K) of indices into `database_images`, nearest
            first (e.g. from `aebook.retrieval.nearest_neighbours`).
        n: neighbours shown per row (at most K).
        row_labels: optional list of R row titles (e.g. the representation).
        query_labels: optional array (R,) of the queries' labels.
        database_labels: optional array (N,) of the database's labels (with
            `query_labels`).
        image_shape: display shape of one image (None infers it, see
            `plot_image_rows`).
        scale: size of each image in inches.

    Returns:
        The `Figure`; axes row-major, `1 + n` per row.

    Raises:
        ValueError: for a bad `n`, neighbours that do not match the queries or the
            database, or labels given for only one side.
    """
    n = v.positive_int("n", n)
    queries = _to_images(query_images, image_shape, name="query_images")
    database = _to_images(database_images, image_shape, name="database_images")
    idx = np.asarray(neighbours)
    if idx.ndim != 2 or len(idx) != len(queries) or not np.issubdtype(idx.dtype, np.integer):
        v.fail("neighbours", f"an int array (R, K) with R = {len(queries)} rows, one per query",
               f"array with shape {idx.shape} and dtype {idx.dtype}")
    if idx.size == 0 or idx.min() < 0 or idx.max() >= len(database):
        v.fail("neighbours", f"indices in [0, {len(database) - 1}] (rows of database_images)",
               f"array with shape {idx.shape}" if idx.size == 0
               else f"indices in [{idx.min()}, {idx.max()}]")
    if n > idx.shape[1]:
        v.fail("n", f"at most the number of neighbours given, {idx.shape[1]}", n)
    if (query_labels is None) != (database_labels is None):
        v.fail("query_labels", "given together with database_labels (or both None)",
               "None" if query_labels is None else "an array")
    if row_labels is not None and len(row_labels) != len(queries):
        v.fail("row_labels", f"a list of {len(queries)} titles, one per row", row_labels)
    wrong = np.zeros((len(queries), n), dtype=bool)
    if query_labels is not None:
        query_labels = np.asarray(query_labels)
        database_labels = np.asarray(database_labels)
        if query_labels.shape != (len(queries),) or database_labels.shape != (len(database),):
            v.fail("query_labels", f"shape ({len(queries)},) with database_labels of shape "
                   f"({len(database)},)", (query_labels.shape, database_labels.shape))
        wrong = database_labels[idx[:, :n]] != query_labels[:, None]
    fig, axes = plt.subplots(len(queries), n + 1, squeeze=False,
                             figsize=(scale * (n + 1) + 0.6, scale * len(queries) + 0.3))
    for r in range(len(queries)):
        images = [queries[r]] + [database[j] for j in idx[r, :n]]
        for c, image in enumerate(images):
            ax = axes[r, c]
            _show(ax, image)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            red = c > 0 and wrong[r, c - 1]
            for spine in ax.spines.values():
                spine.set_visible(c == 0 or red)
                spine.set_color("tab:red" if red else "black")
                spine.set_linewidth(2.0 if red else 1.0)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
    axes[0, 0].set_title("query", fontsize=9)
    for c in range(1, n + 1):
        axes[0, c].set_title(str(c), fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig
