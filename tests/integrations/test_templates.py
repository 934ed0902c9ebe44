"""VariationTemplateLoader: per-request template choice and the Jinja cache pitfall."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import DictLoader, Environment, TemplateNotFound

from mendel_py.integrations.jinja import (
    VariationTemplateCache,
    VariationTemplateLoader,
    folders_of,
    has_base_templates,
    index_template_folders,
    install_template_cache,
)

BASE = "src/base"
A = "src/variations/bucket_A"
B = "src/variations/bucket_B"
D = "src/variations/bucket_D"


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write(tmp_path, f"{BASE}/templates/page.html", "[{% include 'card.html' %}|{% include 'footer.html' %}]")
    write(tmp_path, f"{BASE}/templates/card.html", "base card")
    write(tmp_path, f"{BASE}/templates/footer.html", "base footer")
    write(tmp_path, f"{BASE}/templates/parts/deep.html", "base deep")
    write(tmp_path, f"{A}/templates/card.html", "A card")
    write(tmp_path, f"{B}/templates/card.html", "B card")
    write(tmp_path, f"{B}/templates/footer.html", "B footer")
    write(tmp_path, f"{D}/templates/footer.html", "D footer")
    (tmp_path / "src/variations/feature_C").mkdir(parents=True)
    return tmp_path


class Request:
    """Stands in for the current request: holds the lookup chains the loader asks for."""

    def __init__(self) -> None:
        self.chains: list[list[str]] | None = None

    def use(self, *chains: list[str]) -> None:
        self.chains = [*chains, [BASE]]


@pytest.fixture()
def request_state() -> Request:
    return Request()


@pytest.fixture()
def loader(project: Path, request_state: Request) -> VariationTemplateLoader:
    index = index_template_folders(str(project), [A, B, D, "src/variations/feature_C", BASE])
    return VariationTemplateLoader(index, BASE, lambda: request_state.chains)


def test_index_maps_each_folder_to_its_template_files(project: Path) -> None:
    index = index_template_folders(str(project), [A, B, "src/variations/feature_C", BASE])
    assert set(index) == {A, B, BASE}, "folders without templates/ are left out"
    assert index[BASE] == {
        "card.html": str(project / BASE / "templates/card.html"),
        "footer.html": str(project / BASE / "templates/footer.html"),
        "page.html": str(project / BASE / "templates/page.html"),
        "parts/deep.html": str(project / BASE / "templates/parts/deep.html"),
    }
    assert index[B] == {
        "card.html": str(project / B / "templates/card.html"),
        "footer.html": str(project / B / "templates/footer.html"),
    }


def test_choose_folder_follows_chain_then_base(loader: VariationTemplateLoader) -> None:
    assert loader.choose_folder("card.html", [[BASE]]) == BASE
    assert loader.choose_folder("card.html", [[A], [BASE]]) == A
    # bucket_D inherits bucket_A: its own footer, A's card, base's page.
    assert loader.choose_folder("footer.html", [[D, A], [BASE]]) == D
    assert loader.choose_folder("card.html", [[D, A], [BASE]]) == A
    assert loader.choose_folder("page.html", [[D, A], [BASE]]) == BASE


def test_first_chain_that_has_the_template_wins(loader: VariationTemplateLoader) -> None:
    assert loader.choose_folder("card.html", [[A], [B], [BASE]]) == A
    assert loader.choose_folder("card.html", [[B], [A], [BASE]]) == B
    assert loader.choose_folder("footer.html", [[A], [B], [BASE]]) == B


def test_unknown_template_is_not_found(loader: VariationTemplateLoader) -> None:
    assert loader.choose_folder("missing.html", [[A], [BASE]]) is None
    env = Environment(loader=loader)
    for name in ("missing.html", "../templates/card.html", "/etc/passwd", "templates/card.html"):
        with pytest.raises(TemplateNotFound):
            env.get_template(name)


def test_outside_a_request_the_base_templates_are_used(
    loader: VariationTemplateLoader, request_state: Request
) -> None:
    request_state.chains = None
    env = Environment(loader=loader)
    assert env.get_template("page.html").render() == "[base card|base footer]"


def test_list_templates_is_the_union_of_all_folders(loader: VariationTemplateLoader) -> None:
    assert loader.list_templates() == ["card.html", "footer.html", "page.html", "parts/deep.html"]


def test_source_and_filename_come_from_the_chosen_folder(
    loader: VariationTemplateLoader, request_state: Request, project: Path
) -> None:
    request_state.use([B])
    source, filename, uptodate = loader.get_source(Environment(), "card.html")
    assert (source, filename) == ("B card", str(project / B / "templates/card.html"))
    assert uptodate()


@pytest.mark.parametrize("auto_reload", [False, True])
def test_plain_jinja_cache_leaks_one_requests_template_to_the_next(
    loader: VariationTemplateLoader, request_state: Request, auto_reload: bool
) -> None:
    """The pitfall the variation-aware cache exists for: Jinja caches by name only."""
    env = Environment(loader=loader, auto_reload=auto_reload)
    request_state.use([A])
    assert env.get_template("card.html").render() == "A card"
    request_state.use([B])
    assert env.get_template("card.html").render() == "A card"  # stale: B asked for its own card


@pytest.mark.parametrize("auto_reload", [False, True])
def test_variation_cache_gives_each_request_its_own_templates(
    loader: VariationTemplateLoader, request_state: Request, auto_reload: bool
) -> None:
    env = Environment(loader=loader, auto_reload=auto_reload)
    install_template_cache(env, loader)
    expected = {
        (A,): "[A card|base footer]",
        (B,): "[B card|B footer]",
        (D, A): "[A card|D footer]",
        (): "[base card|base footer]",
    }
    for _ in range(2):  # the second round is served from the cache
        for chain, page in expected.items():
            request_state.use(*([list(chain)] if chain else []))
            assert env.get_template("page.html").render() == page


def test_variation_cache_compiles_each_file_once(
    loader: VariationTemplateLoader, request_state: Request
) -> None:
    env = Environment(loader=loader)
    install_template_cache(env, loader)
    request_state.use([A])
    card_a = env.get_template("card.html")
    request_state.use([D, A])
    assert env.get_template("card.html") is card_a, "same file, same compiled template"
    request_state.use([B])
    card_b = env.get_template("card.html")
    assert card_b is not card_a
    request_state.use([A])
    assert env.get_template("card.html") is card_a
    assert len(env.cache) == 2


def test_cache_keys_of_other_loaders_are_left_alone(
    loader: VariationTemplateLoader, request_state: Request
) -> None:
    cache = VariationTemplateCache({}, loader)
    request_state.use([B])
    cache[("ref", "card.html")] = "compiled B"
    cache[("ref", "other.html")] = "compiled other"
    cache["plain"] = 1
    assert dict(cache.inner) == {
        ("ref", "card.html", B): "compiled B",
        ("ref", "other.html", None): "compiled other",
        "plain": 1,
    }
    assert ("ref", "card.html") in cache
    request_state.use([A])
    assert ("ref", "card.html") not in cache
    assert cache.get(("ref", "card.html")) is None


def test_install_is_idempotent_and_respects_disabled_cache(loader: VariationTemplateLoader) -> None:
    env = Environment(loader=DictLoader({}))
    install_template_cache(env, loader)
    wrapped = env.cache
    install_template_cache(env, loader)
    assert env.cache is wrapped and isinstance(wrapped, VariationTemplateCache)
    no_cache = Environment(cache_size=0)
    install_template_cache(no_cache, loader)
    assert no_cache.cache is None


def fake_trees(root: Path) -> SimpleNamespace:
    variations = (
        SimpleNamespace(id="bucket_A", chain=(A, BASE)),
        SimpleNamespace(id="bucket_B", chain=(B, BASE)),
        SimpleNamespace(id="bucket_D", chain=(D, A, BASE)),
    )
    return SimpleNamespace(variations=variations, config=SimpleNamespace(root=str(root), base_dir=BASE))


def test_from_trees_indexes_every_configured_folder(project: Path, request_state: Request) -> None:
    trees = fake_trees(project)
    assert folders_of(trees) == [A, B, D, BASE]
    assert has_base_templates(trees)
    loader = VariationTemplateLoader.from_trees(trees, lambda: request_state.chains)
    assert set(loader.index) == {A, B, D, BASE}
    request_state.use([D, A])
    assert Environment(loader=loader).get_template("page.html").render() == "[A card|D footer]"


def test_has_base_templates_is_false_without_the_folder(tmp_path: Path) -> None:
    (tmp_path / BASE).mkdir(parents=True)
    assert not has_base_templates(fake_trees(tmp_path))
