"""MONAI Label app: breast microcalcification detector, segmentator and their pipeline.

    monailabel start_server --app apps/mc_segmentation --studies <folder> [--conf key value ...]

Settings (``--conf``):
  models       all (default) or a comma list of: pipeline, detector, segmentator, luna_lozoya,
               marita_unet (with marita_unet_masses), cortina_svm, cortina_resnet, cortina_detector
  models_dir   where trained weights are published (default <app>/model); until
               a training run has published, the weights bundled with mcseg are used
  spacing_mm   pixel size for images whose files carry none (default: mcseg's
               documented 0.05 mm fallback, recorded in every result)
  coarse_from_mm  inputs whose pixel is this or coarser go to the bundled coarse weights (default
               mcseg.defaults.COARSE_INPUT_MIN_SPACING_MM = 0.06; 0.08 keeps native 0.06-0.08 mm
               images on the 0.07 mm weights, which find more on phantoms and film at that pixel
               and fewer on real FFDM; README, "Native 0.06-0.08 mm FFDM")
  native_alone_below_mm  native FFDM from 0.08 mm up to this pixel (0.11 covers GE's 0.094 and Siemens'
               0.085 mm) goes to the native networks alone instead of the coarse weights (default
               mcseg.defaults.NATIVE_ALONE_BELOW_MM = 0.11; README, "Native GE and Siemens detector images")
  native_alone_inputs  which inputs of that band: detector (those whose DICOM names a digital
               detector in DetectorType), all, or none (default mcseg.defaults.NATIVE_ALONE_INPUTS)
  native_band_classifier  true: with native_alone_inputs detector, that band's other inputs go to the
               native networks with their band classifier, and so do the other inputs of 0.06-0.08 mm;
               false: the band's to the coarse weights, 0.06-0.08 mm's to the native networks with their
               own classifier (default mcseg.defaults.NATIVE_BAND_CLASSIFIER)
  auto_update_scoring  true to re-score images after every action (default false:
               on a small CPU machine it starves inference)
  train_after_labels   start training after this many new final labels (default
               mcseg.defaults.TRAIN_AFTER_LABELS = 3; 0 = never)
  auto_train_models    which networks that training run fits (default segmentator,detector)
  auto_train_steps     steps of that run (default mcseg.defaults.RETRAIN_STEPS = 300)
  infer_workers        inference / next-sample requests computed at once, in worker threads, so
               the server keeps answering meanwhile (default 1)
  infer_queue          such requests that may wait; more get 503 with Retry-After (default 8)
  auth_users_file      lines "username:password" (or a bcrypt hash): every route but /health needs a
               login (MONAI Label's /auth/token protocol, which Slicer and MONAILabelClient speak)
  auth_token_hours     how long a login token lasts (default 12)
  dicomweb_search_filter  with --studies http(s)://.../dicom-web: the QIDO filter of the series
               listed, as JSON (default {"Modality": "MG"})
  dicomweb_cache_images   images fetched from the PACS kept in the cache (default 50)
  dicomweb_results     true (default) to send each pipeline/segmentator result back to the PACS as
               a DICOM SEG and a TID 1500 structured report
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from lib.configs import CONFIGS
from lib.activelearning import Entropy, UncertainC2C3, UncertainC2C3Scoring
from lib.activelearning.background import BackgroundScorer
from lib.auto_train import AutoTrainer
from lib.batch_infer import PipelineBatchInfer
from lib.datastore import EXTENSIONS, MammogramDatastore
from lib.dicomweb import (DEFAULT_CACHE_IMAGES, MammographyDICOMwebDatastore, PacsError,
                          search_filter_from_conf)
from lib.models import ModelFiles
from lib.errors import client_errors
from lib import request_checks
from lib.auth import read_users
from lib.offload import Workload
from monailabel.config import settings
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.config import TaskConfig
from monailabel.interfaces.datastore import Datastore
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.utils.others.generic import strtobool

import mcseg
from mcseg import defaults
from mcseg.runtime import keep_freed_memory

log = logging.getLogger(__name__)


def _conf_mm(conf: dict, key: str, above: float, at_most: float) -> float | None:
    """A pixel size in mm from ``--conf key value``, in (above, at_most]; None where not given."""
    text = conf.get(key)
    if text in (None, ""):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a pixel size in mm, not {text!r}") from None
    if not above < value <= at_most:
        raise ValueError(f"{key} must lie in ({above:g}, {at_most:g}] mm, not {value:g}")
    return value


class MCSegmentationApp(MONAILabelApp):
    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        self.model_dir = conf.get("models_dir") or os.path.join(app_dir, "model")
        Path(self.model_dir).mkdir(parents=True, exist_ok=True)
        spacing = float(conf.get("spacing_mm", 0) or 0)
        self.spacing_mm = spacing if spacing > 0 else None
        # Requests that compute run in this many worker threads, with at most infer_queue waiting
        # (then 503 + Retry-After); on 2 CPU cores a second worker only splits the same cores.
        self.workload = Workload(int(conf.get("infer_workers", 1)), int(conf.get("infer_queue", 8)))
        keep_freed_memory()  # the pipeline's image-sized arrays reuse the heap (mcseg.runtime)

        available = CONFIGS
        wanted = [m.strip() for m in conf.get("models", "all").split(",") if m.strip()]
        unknown = [m for m in wanted if m != "all" and m not in available]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from all, {', '.join(sorted(available))}")
        coarse_from_mm = _conf_mm(conf, "coarse_from_mm", 0.0, 1.0)
        native_alone_below_mm = _conf_mm(conf, "native_alone_below_mm", defaults.RETRAINED_FINE_MAX_SPACING_MM, 0.2)
        native_alone_inputs = conf.get("native_alone_inputs") or None
        if native_alone_inputs is not None and native_alone_inputs not in defaults.NATIVE_ALONE_INPUT_KINDS:
            raise ValueError(f"native_alone_inputs must be one of {', '.join(defaults.NATIVE_ALONE_INPUT_KINDS)}, "
                             f"not {native_alone_inputs!r}")
        band_text = str(conf.get("native_band_classifier") or "").strip().lower()
        if band_text not in ("", "true", "false"):
            raise ValueError(f"native_band_classifier must be true or false, not {band_text!r}")
        native_band_classifier = None if not band_text else band_text == "true"
        pipeline_config = None
        if any(v is not None for v in (coarse_from_mm, native_alone_below_mm, native_alone_inputs, native_band_classifier)):
            pipeline_config = defaults.PipelineConfig().with_(coarse_input_min_spacing_mm=coarse_from_mm,
                                                              native_alone_below_mm=native_alone_below_mm,
                                                              native_alone_inputs=native_alone_inputs,
                                                              native_band_classifier=native_band_classifier)
        # One ModelFiles for every TaskConfig: the inferers share one loaded pipeline.
        self.model_files = ModelFiles(self.model_dir, pipeline_config)
        self.models: dict[str, TaskConfig] = {}
        for name, cls in available.items():
            if "all" in wanted or name in wanted:
                self.models[name] = cls()
                self.models[name].init(name, self.model_dir, conf, None, models=self.model_files,
                                       spacing_mm=self.spacing_mm)

        self.auto_trainer = AutoTrainer(
            self.model_files, Path(self.model_dir) / "train",
            int(conf.get("train_after_labels", defaults.TRAIN_AFTER_LABELS)),
            [m.strip() for m in conf.get("auto_train_models", "segmentator,detector").split(",") if m.strip()],
            int(conf.get("auto_train_steps", defaults.RETRAIN_STEPS)), self.spacing_mm)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="mc_segmentation: breast microcalcifications",
            description="Two-stage CNN detector + segmentator of microcalcifications and clusters "
            "(Valvano et al. 2019). Research use only, not for clinical decisions.",
            version=mcseg.__version__,
        )
        # On a small CPU machine re-scoring every image after each action starves
        # inference (monailabel-on-cpu notes); it is on only when asked for.
        self._auto_update_scoring = strtobool(conf.get("auto_update_scoring", "false"))
        # In the server process (not in training or scoring subprocesses), answer client
        # mistakes on MONAI Label's routes with 4xx before they reach any work.
        # Both only in the server process, not in training or scoring subprocesses.
        server = sys.modules.get("monailabel.app")
        self.scorer: BackgroundScorer | None = None
        if server is not None:
            users = None
            if conf.get("auth_users_file"):
                if settings.MONAI_LABEL_AUTH_ENABLE:
                    raise ValueError("auth_users_file and MONAI_LABEL_AUTH_ENABLE (Keycloak) exclude each other")
                users = read_users(conf["auth_users_file"])
            request_checks.install(server.app, {"models": list(self._infers), "trainers": list(self._trainers),
                                                "strategies": list(self._strategies),
                                                "scoring": list(self._scoring_methods)}, self.workload,
                                   users, float(conf.get("auth_token_hours", 12)))
            self.scorer = BackgroundScorer(self.model_files, self.datastore, self.workload, self.spacing_mm)
            datastore = self.datastore()
            if isinstance(datastore, MammogramDatastore):
                datastore.on_change = self.scorer.wake

    def init_datastore(self) -> Datastore:
        if self.studies.startswith(("http://", "https://")):
            # A DICOMweb PACS: MONAI Label's own path would search CT series, convert to NIfTI and
            # download dcmqi; ours lists MG series and writes SEG/SR with highdicom.
            session = None
            if settings.MONAI_LABEL_DICOMWEB_USERNAME and settings.MONAI_LABEL_DICOMWEB_PASSWORD:
                from dicomweb_client.session_utils import create_session_from_user_pass

                session = create_session_from_user_pass(settings.MONAI_LABEL_DICOMWEB_USERNAME,
                                                        settings.MONAI_LABEL_DICOMWEB_PASSWORD)
            return MammographyDICOMwebDatastore(
                self.studies.rstrip("/"), search_filter_from_conf(self.conf.get("dicomweb_search_filter")),
                cache_path=self.conf.get("dicomweb_cache_path") or settings.MONAI_LABEL_DICOMWEB_CACHE_PATH or None,
                cache_images=int(self.conf.get("dicomweb_cache_images", DEFAULT_CACHE_IMAGES)), session=session)
        # MONAI Label's default list has no .dcm: use ours unless the user set one.
        extensions = settings.MONAI_LABEL_DATASTORE_FILE_EXT
        if extensions == type(settings).model_fields["MONAI_LABEL_DATASTORE_FILE_EXT"].default:
            extensions = list(EXTENSIONS)
        return MammogramDatastore(
            self.studies,
            extensions=extensions,
            auto_reload=settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD,
            read_only=settings.MONAI_LABEL_DATASTORE_READ_ONLY,
            spacing_mm=self.spacing_mm,
        )

    def init_infers(self):
        infers = {}
        for config in self.models.values():
            infers.update(config.infer())
        return infers

    def init_trainers(self):
        return {name: t for name, config in self.models.items() if (t := config.trainer())}

    def init_strategies(self):
        return {"uncertain_c2c3": UncertainC2C3(self.model_files, self.spacing_mm),
                "entropy": Entropy(self.model_files, self.spacing_mm), "random": Random(), "first": First()}

    def init_scoring_methods(self):
        return {"uncertain_c2c3": UncertainC2C3Scoring(self.model_files, self.spacing_mm)}

    def on_init_complete(self):
        super().on_init_complete()
        if self.scorer is not None:
            self.scorer.start()

    def info(self):
        meta = super().info()
        meta["workload"] = self.workload.status()
        # Which networks serve which pixel size now (a site's retraining changes it): mcseg weights' table.
        # /info/ is the first thing a client asks: weights that do not load are said here, not raised.
        try:
            meta["routes"] = [{"from_mm": r["from_mm"], "below_mm": r["below_mm"], "inputs": r["inputs"],
                               "weights": str(Path(r["segmentator"]).parent),
                               "working_spacing_mm": r["working_spacing_mm"], "symmetry_views": r["symmetry_views"],
                               "candidate_classifier": r["candidate_classifier"]}
                              for r in self.model_files.pipeline().routes()]
        except Exception as exc:  # noqa: BLE001 - reported to the client, logged with its traceback
            log.exception("the weights in use do not load")
            meta["routes"] = {"error": f"the weights in use do not load: {exc}"}
        if self.scorer is not None:
            meta["uncertain_c2c3_scoring"] = self.scorer.progress()
        return meta

    def on_save_label(self, image_id: str, label_id: str):
        """A final label, in a folder or a PACS, feeds the patch store and counts towards training."""
        datastore = self.datastore()
        if getattr(datastore, "last_saved_tag", None) != "final":
            return {}
        with client_errors():
            return self.auto_trainer.on_final_label(image_id, datastore)

    def init_batch_infer(self):
        return PipelineBatchInfer(self.model_files, self.spacing_mm)

    def infer(self, request: dict[str, Any], datastore=None):
        datastore = datastore or self.datastore()
        with client_errors():
            image = request.get("image")
            if isinstance(image, str) and image and not os.path.exists(image):
                try:
                    found = datastore.get_image_uri(image)
                except (PacsError, OSError) as exc:  # requests' connection errors are OSErrors
                    raise HTTPException(status_code=502, detail=f"the PACS did not deliver {image!r}: {exc}")
                if not found:
                    raise HTTPException(status_code=404, detail=f"image {image!r} is not in the datastore")
            result = super().infer(request, datastore)
        if (isinstance(datastore, MammographyDICOMwebDatastore) and request.get("model") in ("pipeline", "segmentator")
                and strtobool(self.conf.get("dicomweb_results", "true")) and result.get("file")):
            try:
                result["params"] = {**(result.get("params") or {}),
                                    "pacs": datastore.store_result(image, result["file"], result["params"])}
            except Exception as exc:  # the result itself is good: say that the PACS copy failed
                log.exception("storing the result in the PACS failed")
                result["params"] = {**(result.get("params") or {}), "pacs": {"error": str(exc)}}
        return result
