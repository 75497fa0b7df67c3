"""CI's notebook cache: the exact pins it relies on, and the guards that enforce them.

book/conftest.py (the nbval -> jupyter-cache bridge) and .ci/nb_cache_guard.py (the
CI book build's "never execute" extension) use private parts of nbval, MyST-NB and
jupyter-cache, pinned with `==` in requirements.txt and checked by .ci/pins.py. These
tests feed the checks fake versions and fake items, run the bridge on a tiny notebook
without a kernel, and build a tiny Sphinx project with the guard in a subprocess.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load("aebook_test_ci_pins", ROOT / ".ci" / "pins.py")
bridge = _load("aebook_test_book_conftest", ROOT / "book" / "conftest.py")
guard = _load("aebook_test_nb_cache_guard", ROOT / ".ci" / "nb_cache_guard.py")


def _fake_installed(**versions):
    """importlib.metadata.version, except for the packages given (None: not installed)."""

    def installed(name):
        if name in versions:
            return versions[name]
        return metadata.version(name)

    return installed


# --------------------------------------------------------------------------------------
# .ci/pins.py


def test_requirements_pin_the_three_packages_exactly_at_the_installed_versions():
    pinned = pins.read_pins()
    assert set(pins.PINNED) <= set(pinned)
    for name in pins.PINNED:
        assert pinned[name] == metadata.version(name), name
    assert pins.check_versions("CI", pins.PINNED) == {n: pinned[n] for n in pins.PINNED}
    # the lines are `==`, not a range, in the file the README installs
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    for name in pins.PINNED:
        assert f"{name}=={pinned[name]}" in text


def test_read_pins_keeps_only_exact_pins(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        textwrap.dedent(
            """\
            # comment==1.0
            Myst_NB==1.4.0  # trailing comment
            nbval >= 0.11
            jupyter-cache==1.0.1 ; python_version > "3.8"
            torch[cpu]==2.13.0
            keras>=3.8,<4
            -e .
            -c constraints.txt
            """
        ),
        encoding="utf-8",
    )
    assert pins.read_pins(requirements) == {
        "myst-nb": "1.4.0",
        "jupyter-cache": "1.0.1",
        "torch": "2.13.0",
    }


def test_check_versions_names_pin_and_installed_version():
    fake = _fake_installed(nbval="0.12.0")
    with pytest.raises(pins.PinError) as info:
        pins.check_versions("the bridge (book/conftest.py)", pins.PINNED, installed=fake)
    message = str(info.value)
    assert message.startswith(
        "the bridge (book/conftest.py) was written for nbval==0.11.0 (installed: 0.12.0). "
    )
    assert "myst-nb" not in message  # installed at its pin
    assert "execute the notebooks twice or not at all" in message
    assert "pip install -r requirements.txt" in message


def test_check_versions_missing_package_and_every_mismatch_listed():
    fake = _fake_installed(nbval=None, **{"jupyter-cache": "1.1.0"})
    with pytest.raises(pins.PinError, match=r"nbval==0\.11\.0 \(installed: none\), "
                                            r"jupyter-cache==1\.0\.1 \(installed: 1\.1\.0\)"):
        pins.check_versions("x", pins.PINNED, installed=fake)


def test_check_versions_requires_an_exact_pin(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("nbval>=0.11\nmyst-nb==1.4.0\n", encoding="utf-8")
    with pytest.raises(pins.PinError, match=r"must pin it exactly .*found no such line for: "
                                            r"nbval\.$"):
        pins.check_versions("x", ["nbval", "myst_nb"], requirements=requirements)
    # the names are normalised: myst_nb is myst-nb
    assert pins.check_versions(
        "x", ["Myst_NB"], requirements=requirements, installed=lambda name: "1.4.0"
    ) == {"myst-nb": "1.4.0"}


def test_check_attributes_lists_what_is_missing():
    owner = SimpleNamespace(present=1)
    pins.check_attributes("x", [("m.Owner", owner, "present")])
    with pytest.raises(pins.PinError, match=r"x relies on m\.Owner\.gone, m\.Owner\.also_gone,"):
        pins.check_attributes(
            "x", [("m.Owner", owner, "gone"), ("m.Owner", owner, "present"),
                  ("m.Owner", owner, "also_gone")]
        )


def test_pins_script_reports_installed_versions():
    result = subprocess.run([sys.executable, str(ROOT / ".ci" / "pins.py")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "nbval           pinned 0.11.0     installed 0.11.0" in result.stdout


# --------------------------------------------------------------------------------------
# book/conftest.py: the bridge


def test_bridge_refuses_other_versions_with_a_usage_error():
    bridge.check_installed()  # the installed versions are the pins
    with pytest.raises(pytest.UsageError) as info:
        bridge.check_installed(installed=_fake_installed(nbval="0.12.0"))
    assert str(info.value).startswith(
        "the nbval -> jupyter-cache bridge (book/conftest.py) was written for "
        "nbval==0.11.0 (installed: 0.12.0)."
    )
    with pytest.raises(pytest.UsageError, match=r"myst-nb==1\.4\.0 \(installed: 2\.0\.0\)"):
        bridge.check_installed(installed=_fake_installed(**{"myst-nb": "2.0.0"}))


def test_bridge_refuses_nbval_items_without_the_attributes_it_reads():
    class IPyNbCell:  # as if nbval renamed test_outputs
        cell_num = 0
        outputs = None

    with pytest.raises(pytest.UsageError,
                       match=r"relies on nbval\.plugin\.IPyNbCell\.test_outputs, which"):
        bridge.check_items([IPyNbCell()])


@pytest.mark.parametrize("suffix, unset", [(".ipynb", True), (".py", False)])
def test_notebook_cells_are_set_up_without_mplbackend(monkeypatch, suffix, unset):
    """The kernel (started in a notebook cell's setup) must not inherit MPLBACKEND=Agg."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    item = SimpleNamespace(path=Path("book") / f"chapter{suffix}")
    hook = bridge.pytest_runtest_setup(item)
    next(hook)  # pytest now sets the item up, starting the kernel for a first cell
    assert ("MPLBACKEND" not in os.environ) is unset
    with pytest.raises(StopIteration):
        hook.send(None)
    assert os.environ["MPLBACKEND"] == "Agg"


def _tiny_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny"),
        nbformat.v4.new_code_cell("print('hello')"),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    nbformat.write(nb, path)
    return path


def _report(when, outcome="passed"):
    return SimpleNamespace(when=when, passed=outcome == "passed", failed=outcome == "failed",
                           skipped=outcome == "skipped", outcome=outcome, duration=0.5)


def _run_cells(cache, items):
    for item in items:
        for when in ("setup", "call", "teardown"):
            cache.record(item, _report(when))


def _items(path, outputs):
    return [SimpleNamespace(nodeid=f"{path.name}::Cell {i}", cell_num=i, test_outputs=out)
            for i, out in enumerate(outputs)]


def test_bridge_stores_outputs_under_the_key_myst_nb_looks_up(tmp_path):
    from jupyter_cache import get_cache

    path = _tiny_notebook(tmp_path / "tiny.ipynb")
    stdout = nbformat.NotebookNode(output_type="stream", name="stdout", text="hello\n")
    items = _items(path, [[stdout], []])
    cache = bridge.NbvalCacheBridge(tmp_path / "cache")
    notebook = bridge._Notebook(path, items)
    cache.notebooks = {item.nodeid: notebook for item in items}
    _run_cells(cache, items)

    assert cache.errors == 0, cache.lines
    assert len(cache.lines) == 1 and cache.lines[0].startswith("stored "), cache.lines
    # MyST-NB's lookup: the page read with nbformat.reads(..., as_version=4)
    jc = get_cache(str(tmp_path / "cache"))
    on_disk = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    _, merged = jc.merge_match_into_notebook(on_disk)
    code = [cell for cell in merged.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == [1, 2]
    assert code[0].outputs == [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    assert code[1].outputs == []


def test_bridge_fails_rather_than_store_a_cell_without_an_output_list(tmp_path):
    path = _tiny_notebook(tmp_path / "tiny.ipynb")
    items = _items(path, [None, []])  # nbval kept no list for a cell that ran
    cache = bridge.NbvalCacheBridge(tmp_path / "cache")
    notebook = bridge._Notebook(path, items)
    cache.notebooks = {item.nodeid: notebook for item in items}
    _run_cells(cache, items)

    assert cache.errors == 1
    assert cache.lines[0].startswith("ERROR tiny.ipynb::Cell 0: nbval recorded no output list")
    assert cache.lines[1].startswith("not stored: ")
    assert not (tmp_path / "cache").exists()


def test_bridge_checks_versions_when_pytest_starts(monkeypatch, tmp_path):
    """pytest_configure, with AEBOOK_NBVAL_CACHE set, stops before any notebook runs."""
    real = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda name: "0.12.0" if name == "nbval" else real(name))
    config = SimpleNamespace(stash={})
    monkeypatch.delenv(bridge.ENV_VAR, raising=False)
    bridge.pytest_configure(config)  # bridge off: no check, nothing stashed
    assert config.stash == {}
    monkeypatch.setenv(bridge.ENV_VAR, str(tmp_path / "cache"))
    with pytest.raises(pytest.UsageError, match=r"nbval==0\.11\.0 \(installed: 0\.12\.0\)"):
        bridge.pytest_configure(config)
    assert config.stash == {}


# --------------------------------------------------------------------------------------
# .ci/nb_cache_guard.py


def test_guard_refuses_other_versions_with_an_extension_error():
    from sphinx.errors import ExtensionError

    guard.check_installed()
    with pytest.raises(ExtensionError) as info:
        guard.check_installed(installed=_fake_installed(**{"myst-nb": "1.5.0"}))
    assert str(info.value).startswith(
        "nb_cache_guard: this extension (.ci/nb_cache_guard.py) was written for "
        "myst-nb==1.4.0 (installed: 1.5.0)."
    )
    with pytest.raises(ExtensionError, match=r"jupyter-cache==1\.0\.1 \(installed: none\)"):
        guard.check_installed(installed=_fake_installed(**{"jupyter-cache": None}))


def test_guard_setup_checks_versions_before_patching_anything(monkeypatch):
    from myst_nb.core.execute import cache, direct
    from sphinx.errors import ExtensionError

    real = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda name: "1.5.0" if name == "myst-nb" else real(name))
    before = (cache.NotebookClientCache.start_client, direct.NotebookClientDirect.start_client,
              cache.single_nb_execution)
    app = SimpleNamespace(connect=lambda *args: pytest.fail("connected an event"))
    with pytest.raises(ExtensionError, match=r"myst-nb==1\.4\.0 \(installed: 1\.5\.0\)"):
        guard.setup(app)
    assert before == (cache.NotebookClientCache.start_client,
                      direct.NotebookClientDirect.start_client, cache.single_nb_execution)


def test_guard_refuses_an_unknown_myst_nb_client(monkeypatch):
    from myst_nb.core.execute import NotebookClientBase
    from sphinx.errors import ExtensionError

    class NotebookClientRemote(NotebookClientBase):  # as if a release added a client
        pass

    known = NotebookClientBase.__subclasses__()
    monkeypatch.setattr(NotebookClientBase, "__subclasses__",
                        staticmethod(lambda: [*known, NotebookClientRemote]), raising=False)
    with pytest.raises(ExtensionError, match=r"also has .*NotebookClientRemote; update"):
        guard.check_installed()


_CONF = """\
import sys
sys.path.insert(0, {ci!r})
extensions = ["myst_nb", "nb_cache_guard"]
nb_execution_mode = "cache"
nb_execution_cache_path = {cache!r}
exclude_patterns = ["_build"]
"""


def _sphinx_build(src, cache):
    (src / "conf.py").write_text(_CONF.format(ci=str(ROOT / ".ci"), cache=str(cache)),
                                 encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(src / "_build")],
        capture_output=True, text=True, check=False, timeout=300,
    )


def test_guard_builds_from_the_cache_and_refuses_a_miss(tmp_path):
    """A real Sphinx + MyST-NB build with the guard: a hit renders, a miss fails."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    src = tmp_path / "src"
    src.mkdir()
    path = _tiny_notebook(src / "index.ipynb")
    executed = nbformat.read(path, as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="from-the-cache\n")]
    for count, cell in enumerate(code, 1):
        cell.execution_count = count
    cache = tmp_path / "cache"
    get_cache(str(cache)).cache_notebook_bundle(
        CacheBundleIn(executed, str(path)), check_validity=True
    )

    result = _sphinx_build(src, cache)
    assert result.returncode == 0, result.stderr
    assert "from-the-cache" in (src / "_build" / "index.html").read_text(encoding="utf-8")

    # a notebook the cache lacks: MyST-NB would execute it; the guard fails the build
    other = nbformat.read(path, as_version=4)
    other.cells[1].source = "print('zq' * 3)"  # its output is in no source
    nbformat.write(other, path)
    result = _sphinx_build(src, cache)
    assert result.returncode != 0
    assert "nb_cache_guard:" in result.stderr
    assert "no executed copy in the jupyter-cache" in result.stderr
    assert "zqzqzq" not in (src / "_build" / "index.html").read_text(encoding="utf-8")
