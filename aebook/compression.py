"""Codes as compressed files: uniform quantization of latent codes and a JPEG baseline."""

import io

import numpy as np
from PIL import Image

from aebook import validation as v


def uniform_quantize(z, bits, low=None, high=None):
    """Quantizes codes to `2**bits` evenly spaced levels per dimension and back.

    Each column j is clipped to `[low[j], high[j]]` and rounded to the nearest of
    `2**bits` levels spanning that interval; the returned array holds the decoded
    (de-quantized) values, so `decoder(uniform_quantize(z, 8, lo, hi))` is what a
    receiver of the 8-bit file would see. Storing a code then costs
    `bits * latent_dim / 8` bytes, plus `low` and `high` once for the whole file.

    Args:
        z: codes, array of shape (N, latent_dim).
        bits: bits per code entry, an int in [1, 16].
        low, high: per-dimension range, arrays of shape (latent_dim,) (or scalars);
            None uses the column minimum / maximum of `z` (fit them on the
            training codes and reuse them for test codes).

    Returns:
        float32 array of shape (N, latent_dim): the de-quantized codes.

    Raises:
        ValueError: for a bad `bits`, `z` that is not 2-D, or `high < low`.
    """
    bits = v.positive_int("bits", bits)
    if bits > 16:
        raise ValueError(f"bits must be at most 16. Received: bits={bits}")
    z = np.asarray(z, dtype="float64")
    if z.ndim != 2:
        raise ValueError(f"z must have shape (N, latent_dim). Received: z.shape={z.shape}")
    low = z.min(axis=0) if low is None else np.broadcast_to(np.asarray(low, "float64"), z.shape[1:])
    high = z.max(axis=0) if high is None else np.broadcast_to(np.asarray(high, "float64"), z.shape[1:])
    if np.any(high < low):
        raise ValueError("high must be >= low in every dimension. Received: high < low")
    levels = 2**bits - 1
    step = np.where(high > low, (high - low) / levels, 1.0)
    q = np.round((np.clip(z, low, high) - low) / step)
    return (low + q * step).astype("float32")


def _jpeg_payload_bytes(data):
    """Bytes of entropy-coded scan data: after the SOS segment, before EOI."""
    sos = data.find(b"\xff\xda")
    header_len = int.from_bytes(data[sos + 2:sos + 4], "big")
    return len(data) - (sos + 2 + header_len) - 2


def jpeg_roundtrip(x, quality, image_shape=(28, 28)):
    """Compresses each grey-scale image to JPEG with Pillow and decodes it back.

    Pillow's standard (non-optimized) Huffman tables are used, so every file of
    one `quality` has identical headers (quantization and Huffman tables, frame
    and scan headers): a collection could store them once (JPEG's "abbreviated"
    format) and keep only the entropy-coded scan data per image. Both sizes are
    returned.

    Args:
        x: images in [0, 1], array of shape (N, H*W) or (N, H, W); rounded to
            8-bit pixels before encoding.
        quality: JPEG quality, an int in [1, 95].
        image_shape: (H, W) of one image, used when `x` is flat.

    Returns:
        `(x_hat, file_bytes, payload_bytes)`: the decoded images as float32 in
        [0, 1] shaped like `x`; int arrays of shape (N,) with the size of each
        complete .jpg file and of its entropy-coded data alone.

    Raises:
        ValueError: for a bad `quality`, images of the wrong size, or values
            outside [0, 1] (e.g. uint8 pixels in 0-255).
    """
    quality = v.positive_int("quality", quality)
    if quality > 95:
        raise ValueError(f"quality must be at most 95. Received: quality={quality}")
    image_shape = v.positive_int_tuple("image_shape", image_shape)
    x = v.unit_interval_array("x", x)
    if int(np.prod(x.shape[1:])) != int(np.prod(image_shape)):
        raise ValueError(
            f"each image must have {int(np.prod(image_shape))} pixels (image_shape={image_shape}). "
            f"Received: x.shape={x.shape}"
        )
    pixels = np.round(np.clip(x, 0.0, 1.0) * 255).astype("uint8").reshape(len(x), *image_shape)
    x_hat = np.empty(pixels.shape, dtype="float32")
    file_bytes = np.empty(len(x), dtype="int64")
    payload_bytes = np.empty(len(x), dtype="int64")
    for i, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        file_bytes[i] = len(data)
        payload_bytes[i] = _jpeg_payload_bytes(data)
        x_hat[i] = np.asarray(Image.open(io.BytesIO(data)), dtype="float32") / 255.0
    return x_hat.reshape(x.shape), file_bytes, payload_bytes
