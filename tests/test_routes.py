"""A saved label trains the networks that serve its image (mcseg.training.routes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mcseg.io.dicom_write import write_mammogram_dicom
from mcseg.pipeline import DEFAULT_COARSE_WEIGHTS_DIR, Pipeline
from mcseg.training import LabelledCase
from mcseg.training import routes
from mcseg.training.routes import cases_by_route, route_workspace


def _case(folder, name: str, spacing_mm: float) -> LabelledCase:
    pixels = np.random.default_rng(0).integers(1000, 3000, (300, 200)).astype(np.uint16)
    image = write_mammogram_dicom(folder / f"{name}.dcm", pixels, spacing_mm=(spacing_mm, spacing_mm))
    return LabelledCase(name, image, folder / f"{name}.label.nrrd")


def test_cases_go_to_the_networks_that_serve_them_and_the_pixel_sizes_are_remembered(tmp_path, monkeypatch):
    film, ffdm, downsampled = _case(tmp_path, "film", 0.05), _case(tmp_path, "ffdm", 0.07), _case(tmp_path, "down", 0.14)
    pipeline = Pipeline.from_weights()
    cache = tmp_path / "train" / "pixel_sizes.json"
    cache.parent.mkdir()
    by_route = cases_by_route(pipeline, [ffdm, film, downsampled], cache_path=cache)
    assert by_route == {"fine": [film], "coarse": [ffdm, downsampled]}
    assert list(by_route) == ["fine", "coarse"]
    assert sorted(v["spacing_mm"][0] for v in json.loads(cache.read_text()).values()) == [0.05, 0.07, 0.14]

    # The second run reads no image: the sizes come from the cache while the files are unchanged ...
    def no_read(*args, **kwargs):
        raise AssertionError("read an image whose pixel size was cached")

    monkeypatch.setattr(routes, "read_mammogram", no_read)
    assert cases_by_route(pipeline, [ffdm, film, downsampled], cache_path=cache) == by_route
    # ... and a file that changed is read again.
    _case(tmp_path, "film", 0.08)
    with pytest.raises(AssertionError, match="cached"):
        cases_by_route(pipeline, [film], cache_path=cache)
    monkeypatch.undo()
    assert cases_by_route(pipeline, [film], cache_path=cache) == {"coarse": [film]}

    # The server's pixel size override and the site's edge decide as they do at inference.
    assert cases_by_route(pipeline, [ffdm, film], spacing_mm=0.05) == {"fine": [ffdm, film]}
    edge = Pipeline.from_weights(config=pipeline.given_config.with_(coarse_input_min_spacing_mm=0.1))
    assert cases_by_route(edge, [ffdm, downsampled]) == {"fine": [ffdm], "coarse": [downsampled]}
    # Without coarse networks every label trains the fine ones; an unreadable image goes there too
    # (its patch store then says why it skipped it).
    assert cases_by_route(Pipeline.from_weights(coarse_dir=None), [ffdm, downsampled]) == {"fine": [ffdm, downsampled]}
    (tmp_path / "ffdm.dcm").write_bytes(b"not a mammogram")
    assert cases_by_route(pipeline, [ffdm, downsampled]) == {"fine": [ffdm], "coarse": [downsampled]}
    assert route_workspace(tmp_path, "fine") == tmp_path and route_workspace(tmp_path, "coarse") == tmp_path / "coarse"


def test_named_coarse_weights_serve_beside_retrained_fine_ones(tmp_path):
    """The app names both routes' files; retrained fine networks no longer switch the routing off."""
    import shutil

    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS

    for path in (DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS):
        shutil.copy(path, tmp_path / path.name)
    retrained = (tmp_path / "detector.pt", tmp_path / "segmentator.pt")
    assert Pipeline.from_weights(*retrained).coarse is None  # the library's default: as before
    coarse = (DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt")
    routed = Pipeline.from_weights(*retrained, coarse_weights=coarse)
    assert routed.coarse is not None and routed.coarse.weights["segmentator"]["path"] == str(coarse[1])
    assert routed.route_of((0.07, 0.07)) == "coarse" and routed.route_of((0.05, 0.05)) == "fine"
    forced = Pipeline.from_weights(*retrained, routed.given_config.with_(working_spacing_mm=0.07), coarse_weights=coarse)
    assert forced.coarse is None and forced.route_of((0.07, 0.07)) == "fine"
