"""aebook.callbacks.progress_callback: tqdm's Keras callback, one bar over the epochs."""

import io
import textwrap

import numpy as np
from tqdm.keras import TqdmCallback

import aebook
from aebook import callbacks


def _fit(callback, epochs=3, **kwargs):
    x = np.random.default_rng(0).random((64, 8)).astype("float32")
    model = aebook.build_vanilla_autoencoder(input_dim=8, latent_dim=2).autoencoder
    model.compile(optimizer="adam", loss="mse")
    return model.fit(x, x, epochs=epochs, batch_size=16, verbose=0, callbacks=[callback],
                     **kwargs)


def test_progress_bar_counts_epochs_and_shows_the_losses():
    out = io.StringIO()
    callback = callbacks.progress_callback(file=out)
    assert isinstance(callback, TqdmCallback)
    history = _fit(callback, validation_split=0.25)
    text = out.getvalue()
    final = text.split("\r")[-1].strip()
    assert final.startswith("100%") and "3/3" in final and "epoch" in final
    assert f"loss={history.history['loss'][-1]:.3g}"[:9] in final and "val_loss=" in final
    assert "batch" not in text  # nothing per batch
    assert "\n" not in text.rstrip("\n")  # one line, updated in place with \r


def test_progress_bar_starts_afresh_for_every_fit():
    out = io.StringIO()
    callback = callbacks.progress_callback(file=out, mininterval=0)
    _fit(callback, epochs=2)
    _fit(callback, epochs=4)
    finals = [line.split("\r")[-1] for line in out.getvalue().strip().split("\n")]
    assert len(finals) == 2
    assert "2/2" in finals[0] and "4/4" in finals[1]


def test_construction_prints_nothing(capsys):
    callbacks.progress_callback()
    assert capsys.readouterr() == ("", "")


def test_progress_bar_in_a_fresh_process_without_a_terminal(run_python):
    # stderr is a pipe here, as in a CI log: the bar still ends with its summary line
    script = textwrap.dedent("""
        import sys
        import aebook, numpy as np
        x = np.random.default_rng(0).random((64, 8)).astype("float32")
        model = aebook.build_vanilla_autoencoder(input_dim=8, latent_dim=2).autoencoder
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, x, epochs=5, verbose=0, callbacks=[aebook.callbacks.progress_callback(
            file=sys.stdout)])
    """)
    lines = [line for line in run_python(script).replace("\r", "\n").split("\n") if line.strip()]
    assert len(lines) <= 3  # the first state, at most a refresh a minute, and the last
    assert lines[-1].strip().startswith("100%|") and "5/5" in lines[-1]
