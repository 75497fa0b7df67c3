"""Tests of aebook.distributed: data-parallel training (DDP) and the device helpers.

The main check is the one CI runs with real processes: `torchrun --standalone
--nproc_per_node=2` (as `python -m torch.distributed.run`, gloo, 1 thread each) against
one plain process, on the same global batch and seed. Data-parallel training averages
the two halves' gradients, which is the full batch's mean gradient; only the order of
the float32 summations differs. float32's relative rounding is 6e-8, and after 24 Adam
steps the two runs measured 5e-7 apart (largest weight difference over the largest
weight of each array), so a tolerance of 1e-4 leaves 200x to spare, while any real
difference in the data each step sees (a wrong split, another shuffle, each process
taking the whole global batch) moves the weights by ~1e-2 and fails it.
"""

import json

import keras
import numpy as np
import pytest

from aebook import distributed as D

TOLERANCE = 1e-4  # see the module docstring
CLI = ["--data", "synthetic", "--n-train", "512", "--epochs", "3", "--global-batch-size", "64",
       "--hidden-dims", "32", "--latent-dim", "8", "--seed", "3"]


def _run(tmp_path, processes):
    weights = tmp_path / f"{processes}.npz"
    result = D.launch(processes, 1, CLI + ["--quiet", "--weights", str(weights)], timeout=300)
    with np.load(weights) as arrays:
        return result, [arrays[f"w{i}"] for i in range(len(arrays.files))]


def test_two_processes_match_one_process(tmp_path):
    one, w_one = _run(tmp_path, 1)  # python -m aebook.distributed
    two, w_two = _run(tmp_path, 2)  # python -m torch.distributed.run --standalone --nproc_per_node=2
    assert (one["world_size"], one["backend"], one["per_process_batch_size"]) == (1, None, 64)
    assert (two["world_size"], two["backend"], two["per_process_batch_size"]) == (2, "gloo", 32)
    assert one["threads_per_process"] == two["threads_per_process"] == 1
    assert one["processes"] == 1 and two["processes"] == 2
    assert two["cpu_seconds"] > 0 and one["cpu_seconds"] > 0
    assert one["steps_per_epoch"] == two["steps_per_epoch"] == 512 // 64
    assert len(w_one) == len(w_two) == 8  # 784-32-8-32-784: 4 Dense layers, kernel + bias
    np.testing.assert_allclose(one["losses"], two["losses"], rtol=TOLERANCE)
    for a, b in zip(w_one, w_two, strict=True):
        assert np.abs(a - b).max() <= TOLERANCE * np.abs(a).max(), np.abs(a - b).max()
    assert one["losses"][-1] < one["losses"][0]  # it trained
    # and it moved the weights far more than the tolerance, so the match means something
    keras.utils.set_random_seed(3)
    w_init = D._default_model(784, (32,), 8).get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(w_one, w_init, strict=True)) > 100 * TOLERANCE


def test_per_process_batch_size():
    assert D.per_process_batch_size(256, 1) == 256
    assert D.per_process_batch_size(256, 2) == 128
    assert D.per_process_batch_size(np.int64(96), 3) == 32
    with pytest.raises(ValueError, match=r"global_batch_size must be a multiple of world_size=3"
                                         r".*Received: global_batch_size=256"):
        D.per_process_batch_size(256, 3)
    with pytest.raises(ValueError, match="world_size must be a positive int. Received: world_size=0"):
        D.per_process_batch_size(256, 0)
    with pytest.raises(ValueError, match="global_batch_size must be a positive int"):
        D.per_process_batch_size(2.5, 1)


def test_mixed_precision_policy():
    assert D.mixed_precision_policy(cuda=True) == "mixed_float16"
    assert D.mixed_precision_policy(cuda=False) == "mixed_bfloat16"
    import torch

    assert D.mixed_precision_policy() == D.mixed_precision_policy(torch.cuda.is_available())
    with pytest.raises(ValueError, match="cuda must be None, True or False. Received: cuda='gpu'"):
        D.mixed_precision_policy("gpu")


def test_mixed_precision_one_line_changes_compute_dtype():
    policy = D.mixed_precision_policy(cuda=False)
    try:
        keras.mixed_precision.set_global_policy(policy)
        layer = keras.layers.Dense(4)
        y = layer(np.ones((2, 3), "float32"))
        assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
        assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.layers.Dense(4).compute_dtype == "float32"


def test_device_report():
    import torch

    report = D.device_report()
    assert report["backend"] == "torch"
    assert report["cuda_available"] == torch.cuda.is_available()
    assert report["device"].startswith("cuda") == report["cuda_available"]
    assert report["gpu_count"] == len(report["gpu_names"])
    assert report["torch_threads"] == torch.get_num_threads()
    assert report["mixed_precision_policy"] in ("mixed_float16", "mixed_bfloat16")


def test_init_distributed_without_torchrun_is_one_process():
    ctx = D.init_distributed(environ={})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.backend) == (0, 1, 0, None)
    assert not ctx.distributed and not ctx.owns_group
    ctx.close()  # a no-op


@pytest.mark.parametrize("environ, message", [
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE must be an int"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE must be a positive int. Received: WORLD_SIZE=0"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK must be smaller than WORLD_SIZE=2. Received: RANK=2"),
    ({"WORLD_SIZE": "2", "RANK": "-1"}, "RANK must be a non-negative int"),
])
def test_init_distributed_rejects_a_bad_environment(environ, message):
    with pytest.raises(ValueError, match=message):
        D.init_distributed(environ=environ)


def test_train_one_process_in_memory(images, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    x = images.reshape(len(images), -1)
    result = D.train_data_parallel(x, epochs=3, global_batch_size=64, learning_rate=3e-3,
                                   hidden_dims=(32,), latent_dim=8, seed=5, verbose=False)
    assert result["world_size"] == 1 and result["steps_per_epoch"] == 4
    assert len(result["losses"]) == 3 and result["losses"][-1] < result["losses"][0]
    assert result["seconds"] > 0
    model = result["model"]
    assert model.count_params() == (784 * 32 + 32) + (32 * 8 + 8) + (8 * 32 + 32) + (32 * 784 + 784)
    # the same seed gives the same run
    again = D.train_data_parallel(x, epochs=3, global_batch_size=64, learning_rate=3e-3,
                                  hidden_dims=(32,), latent_dim=8, seed=5, verbose=False)
    assert again["losses"] == result["losses"]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again["model"].get_weights(), strict=True))


def test_train_with_a_custom_builder_and_bce(images):
    x = images.reshape(len(images), -1)

    def build(input_dim):
        inputs = keras.Input(shape=(input_dim,))
        return keras.Model(inputs, keras.layers.Dense(input_dim, activation="sigmoid")(inputs))

    result = D.train_data_parallel(x, epochs=2, global_batch_size=128, build=build,
                                   loss="binary_crossentropy", verbose=False, context=D.init_distributed({}))
    assert result["model"].count_params() == 784 * 784 + 784
    assert result["losses"][1] < result["losses"][0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be a positive int. Received: epochs=0"),
    (dict(global_batch_size=1000), r"global_batch_size must be at most the number of examples \(256\)"),
    (dict(loss="l1"), "loss must be one of 'mse', 'binary_crossentropy'. Received: loss='l1'"),
    (dict(seed=-1), "seed must be an int in"),
    (dict(learning_rate=0.0), "learning_rate must be a positive float"),
    (dict(threads_per_process=0), "threads_per_process must be a positive int"),
    (dict(build="dense"), "build must be None or a callable"),
])
def test_train_rejects_bad_arguments(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        D.train_data_parallel(images.reshape(len(images), -1), verbose=False, **kwargs)


def test_train_rejects_a_global_batch_the_processes_do_not_divide(images):
    import torch

    ctx = D.DistContext(0, 3, 0, torch.device("cpu"), None, False)  # 3 processes, never joined
    with pytest.raises(ValueError, match="global_batch_size must be a multiple of world_size=3"):
        D.train_data_parallel(images.reshape(len(images), -1), global_batch_size=64, context=ctx,
                              verbose=False)
    with pytest.raises(ValueError, match=r"x must be a non-empty array of shape \(N, input_dim\)"):
        D.train_data_parallel(images, verbose=False)


def test_main_one_process_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    out = tmp_path / "r.json"
    result = D.main(CLI + ["--threads-per-process", "1", "--json", str(out)])
    assert "model" not in result
    saved = json.loads(out.read_text())
    assert saved["losses"] == result["losses"] and saved["n_train"] == 512 and saved["data"] == "synthetic"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch 1/3: loss ") and "1 process(es) x 1 thread(s)" in lines[-1]


@pytest.mark.parametrize("argv, message", [
    (["--data", "cifar"], "data must be one of 'mnist', 'synthetic'"),
    (["--hidden-dims", "a,b"], "hidden_dims must be comma-separated positive ints"),
    (["--n-train", "0"], "n_train must be a positive int"),
])
def test_main_rejects_bad_arguments(argv, message):
    with pytest.raises(ValueError, match=message):
        D.main(argv)


def test_synthetic_images():
    x = D.synthetic_images(10, input_dim=20, seed=1)
    assert x.shape == (10, 20) and x.dtype == np.float32
    assert 0 < x.min() and x.max() < 1
    np.testing.assert_array_equal(x, D.synthetic_images(10, input_dim=20, seed=1))
    with pytest.raises(ValueError, match="n must be a positive int"):
        D.synthetic_images(0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(processes=0), "processes must be a positive int. Received: processes=0"),
    (dict(threads_per_process=1.5), "threads_per_process must be a positive int"),
    (dict(args=["--json", "x.json"]), "args must be free of --json and --threads-per-process"),
    (dict(env={"OMP_WAIT_POLICY": 1}), "env must be None or a dict of str to str"),
    (dict(timeout=0), "timeout must be a positive float"),
])
def test_launch_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        D.launch(**kwargs)


def test_launch_reports_a_failed_run():
    with pytest.raises(RuntimeError, match="failed with status"):
        D.launch(1, 1, ["--data", "synthetic", "--n-train", "10", "--global-batch-size", "64"])
