"""The weights table is complete: every tag says where it comes from and what it expects.

Every published checkpoint (of a network or of its presets) has its URL, format,
the source's top-1, licence, input size and preprocessing, and the structure
arguments it needs are arguments its builder takes. README.md shows the table
as `kerasnets list --pretrained --markdown` prints it.
"""

import inspect
import os
import re

import pytest

import kerasnets
from kerasnets import cli, registry
from kerasnets.models import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_PRETRAINED = 35


def every_tag():
    for name in kerasnets.list_models(include_aliases=True):
        for tag, published in registry.get_spec(name).published_weights.items():
            yield name, tag, published


def keras_preset_without_top1(name, published):
    """keras.applications publishes MobileNet's top-1 at input 224 only."""
    spec = registry.get_spec(name)
    return (published.source == "keras.applications" and spec.alias_of in (
        "mobilenet_v1", "mobilenet_v2") and spec.input_shape[0] != 224)


def builder_arguments(spec):
    """The keyword arguments the family builder behind `spec` takes."""
    module = inspect.getmodule(spec.builder)
    arguments = set()
    for function in vars(module).values():
        if inspect.isfunction(function) and function.__module__ == module.__name__:
            arguments |= set(inspect.signature(function).parameters)
    return arguments


def test_at_least_35_networks_have_published_weights():
    pretrained = kerasnets.list_models(pretrained=True)
    assert len(pretrained) >= MIN_PRETRAINED, pretrained
    assert set(pretrained) <= set(kerasnets.list_models())
    assert "lenet5" not in pretrained and "resnet50" in pretrained


def test_every_tag_is_complete():
    seen = 0
    for name, tag, published in every_tag():
        seen += 1
        what = f"{name} {tag}"
        assert re.fullmatch(r"[a-z0-9_]+", tag), what
        assert published.top.url.startswith(("https://", "http://")), what
        assert published.format in registry.WEIGHTS_FORMATS, what
        assert (published.format == "keras") == (published.convert is None), what
        assert published.source and published.licence, what
        if not keras_preset_without_top1(name, published):
            assert published.top1 is not None and 20 < published.top1 < 100, what
        assert published.classes >= 2 and published.dataset, what
        spec = registry.get_spec(name)
        size = published.input_size or spec.input_shape[:2]
        assert len(size) == 2 and all(s >= spec.min_input_shape[0] for s in size), what
        norm = registry.normalization_for(name, tag)
        assert norm.channel_order in ("RGB", "BGR") and len(norm.mean) == 3, what
        unknown = set(published.structure) - builder_arguments(spec)
        assert not unknown, f"{what}: the builder takes no {sorted(unknown)}"
    assert seen >= MIN_PRETRAINED


def test_readme_has_the_weights_table(capsys):
    assert cli.main(["list", "--pretrained", "--markdown"]) == 0
    table = capsys.readouterr().out
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert table in readme, "README.md's weights table is stale: paste the output of " \
                            "`kerasnets list --pretrained --markdown`"


def test_weights_errors_name_the_tags():
    with pytest.raises(ValueError, match=r"unknown weights tag 'nope' for 'resnet50'; its tags: "
                                         r"imagenet"):
        registry.published_weights("resnet50", "nope")
    with pytest.raises(ValueError, match=r"no published weights for 'lenet5'"):
        registry.published_weights("lenet5")
    with pytest.raises(TypeError, match=r"`pretrained` must be True or False; got 'yes'"):
        kerasnets.list_models(pretrained="yes")
    assert common.pretrained.is_tag("imagenet", "resnet50")
    assert not common.pretrained.is_tag("imagenet", "lenet5")


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", [(name, tag) for name, tag, _ in every_tag()])
def test_every_tag_structure_builds(name, tag):
    published = registry.get_spec(name).published_weights[tag]
    model = kerasnets.build(name, classes=published.classes, **published.structure)
    assert model.output_shape == (None, published.classes)
