"""Evaluate the default weights on every reference set (a benchmark, not a test).

    .venv/bin/python benchmarks/evaluate_default.py [--out runs/evaluation] [--mias-normals 208]

Sets (none of their images was used to train the default weights):
  synthetic        20 fresh synthetic mammograms (seed 9000), calcification and cluster level
  real-background  10 synthetic calcification sets inserted into the real CBIS-DDSM films of
                   patient P_00820 (sfm-malign-0; the weights saw backgrounds of P_00173 only). The
                   films' own real calcifications (benchmarks/cbis_background_findings.json, reviewed
                   by eye) are ignore regions, as for ffdm-like below
  ffdm-like        21 images that stand in for real FFDM: synthetic calcifications (contrast 2-20 times
                   the local noise, so every contrast-to-noise band is populated) inserted into the real
                   GE and Siemens vendor FFDMs (tests/data/ffdm-vendor) at their own pixel size and
                   downsampled to 0.14 mm as 8-bit copies, and into FFDM-like phantoms (mcseg/synth/
                   ffdm.py) at 0.07, 0.1 and 0.14 mm; no vendor file was used in training. The
                   vendor files' own real calcifications (tests/data/ffdm-vendor/background_findings.json,
                   reviewed by eye) are ignore regions: detections there are neither hits nor false
                   positives (--score-background-findings counts them as false positives instead)
  vendor-0.07mm    12 images of the same vendor FFDMs (GE and Siemens, half as 8-bit copies) resampled to
                   0.07 mm with synthetic calcifications (contrast 2-20 times the local noise), as a
                   0.07 mm FFDM arrives: real digital anatomy served by the 0.07 mm weights (ffdm-like's
                   vendor crops are all served by the coarse ones). Upsampled from 0.085-0.094 mm, so
                   the noise is smoother than a native 0.07 mm detector's. The files' own calcifications
                   are ignore regions, as in ffdm-like
  mini-mias        the real mini-MIAS images at cluster level: the 25 images with CALC rows (27
                   located clusters) plus the normal images of patients 81-161 (mdb161-mdb322;
                   patients 1-80 are training negatives of the wave-2 weights); 0.2 mm pixels;
                   also the calcification-level false positives per normal image
  cbis-negatives   false positives on the 8 CBIS-DDSM films (mass cases, no calcification
                   annotated), at the documented 0.05 mm fallback pixel size; P_00820's reviewed real
                   calcifications are ignore regions (P_00173's films, 1-130 to 1-133, were training
                   backgrounds of the networks and the candidate classifier, so this set is not
                   wholly held out)

Each set gets OUT/<set>/{pred/, summary.json, froc.png, report.md}; OUT/summary.md is the table the
README quotes, and benchmarks/evaluation.json keeps the figures (with --no-candidate-classifier, the
networks alone: benchmarks/evaluation_networks_only.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mcseg.defaults import PipelineConfig
from mcseg.evaluation.froc import HIT_RADIUS_MM
from mcseg.evaluation.report import evaluate_folder, write_report
from mcseg.io import read_mammogram
from mcseg.io.writer import write_result
from mcseg.pipeline import Pipeline
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.synth.dataset import background_findings_in_crop
from mcseg.synth.calcifications import CONTRAST_BANDS
from mcseg.training import find_cases

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CBIS = SHARED / "cbis-ddsm-sample" / "cases"
MIAS = SHARED / "mini-mias"
VENDOR = ROOT / "tests" / "data" / "ffdm-vendor"
#: mini-MIAS patients 1-80 (mdb001-mdb160) are training negatives of the wave-2 weights.
MIAS_FIRST_HELD_OUT = 161
#: Contrast-to-noise bands of the real-FFDM issue (peak over the local noise).
CNR_BANDS = ((0, 3), (3, 5), (5, 8), (8, 12), (12, float("inf")))


def segment_all(pipeline: Pipeline, images: list[Path], out: Path, spacing_mm: float | None, desc: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for image in tqdm(images, desc=desc, unit="image"):
        result = pipeline.run(read_mammogram(image, spacing_mm=spacing_mm))
        write_result(result, out, image.name.split(".")[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "evaluation")
    parser.add_argument("--sets", nargs="+",
                        default=["synthetic", "real-background", "ffdm-like", "vendor-0.07mm", "mini-mias",
                                 "cbis-negatives"])
    parser.add_argument("--mias-normals", type=int, default=208,
                        help="at most this many held-out normal mini-MIAS images (default: all 104)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--weights", type=Path, help="folder with detector.pt and segmentator.pt (default: bundled)")
    parser.add_argument("--no-store", action="store_true", help="do not merge the figures into benchmarks/evaluation.json")
    parser.add_argument("--no-candidate-classifier", action="store_true",
                        help="the networks alone (figures go to benchmarks/evaluation_networks_only.json)")
    parser.add_argument("--score-background-findings", action="store_true",
                        help="ffdm-like: count detections of the vendor images' own calcifications as false "
                             "positives, as before they were annotated (figures go to a *_scored.json file)")
    parser.add_argument("--candidate-peaks-mm", type=float, metavar="MM",
                        help="list every sub-threshold probability peak at least MM apart as a candidate "
                             "(PipelineConfig.candidate_peak_separation_mm; default: one per region); use with "
                             "--no-store or --no-candidate-classifier, the classifiers were fitted without it")
    parser.add_argument("--native-alone-inputs", choices=("all", "none"),
                        help="which inputs of 0.08 to <0.11 mm go to the native networks alone, instead of the default "
                             "(those whose header names a digital detector): all (the former site option; figures go to "
                             "benchmarks/evaluation_native_alone.json) or none (the coarse weights, the default until "
                             "the eleventh rule; benchmarks/evaluation_coarse_band.json)")
    parser.add_argument("--no-native-band-classifier", action="store_true",
                        help="the 0.08 to <0.11 mm inputs that name no detector to the coarse weights, as before the "
                             "thirteenth rule (figures go to benchmarks/evaluation_before_band_classifier.json)")
    args = parser.parse_args()
    config = PipelineConfig(candidate_peak_separation_mm=args.candidate_peaks_mm).with_(
        native_alone_inputs=args.native_alone_inputs, native_band_classifier=False if args.no_native_band_classifier
        else None)
    pipeline = Pipeline.from_weights(args.weights / "detector.pt" if args.weights else None,
                                     args.weights / "segmentator.pt" if args.weights else None, config,
                                     **({"classifier_path": None} if args.no_candidate_classifier else {}))
    results = {}
    for name in args.sets:
        summary = evaluate_set(name, pipeline, args.out / name, args.bootstrap, args.mias_normals,
                               args.score_background_findings)
        results[name] = {k: v for k, v in summary.items() if k != "per_image"}
        print(json.dumps(results[name], indent=1))
    # Sets run separately accumulate: the file keeps the latest figures of every set.
    store = ROOT / "benchmarks" / ("evaluation_networks_only.json" if args.no_candidate_classifier
                                   else "evaluation.json")
    if args.score_background_findings:
        store = store.with_name(store.stem + "_scored.json")
    if args.native_alone_inputs is not None:
        store = store.with_name({"all": "evaluation_native_alone.json",
                                 "none": "evaluation_coarse_band.json"}[args.native_alone_inputs])
    if args.no_native_band_classifier:
        store = store.with_name("evaluation_before_band_classifier.json")
    merged = json.loads(store.read_text()) if store.is_file() and not args.no_store else {}
    merged.update(results)
    if not args.no_store:
        store.write_text(json.dumps(merged, indent=1))
    text = table(merged) + breakdown_table(merged)
    (args.out / "summary.md").write_text(text)
    print(text)


def evaluate_set(name: str, pipeline: Pipeline, work: Path, bootstrap: int = 1000, mias_normals: int = 208,
                 score_background_findings: bool = False, title: str = "Default weights") -> dict:
    """Segment one evaluation set with ``pipeline`` into WORK/pred and score it (WORK/report.md too)."""
    started = time.perf_counter()
    pred = work / "pred"
    shutil.rmtree(pred, ignore_errors=True)
    truth_dir = images_dir = mias_info = None
    negatives = False
    spacing = None
    if name in GENERATED:
        data = ensure_data(name, work / "data")
        if name in BACKGROUND_FINDINGS:
            mark_background_findings(data, name, score_them=score_background_findings)
        images = [case.image_path for case in find_cases(data)]
        truth_dir = images_dir = data
    elif name == "mini-mias":
        # all 25 images with CALC rows, and the first mias_normals normal images
        info = MIAS / "Info.txt"
        calc, normal = mias_references()
        normal = normal[:mias_normals]
        images = [MIAS / "png" / f"{ref}.png" for ref in calc + normal]
        mias_info, spacing = info, 0.2
    elif name == "cbis-negatives":
        images = sorted(CBIS.rglob("*.dcm"))
        negatives = True
        truth_dir = cbis_truth(work / "truth", score_them=score_background_findings)
    else:
        raise SystemExit(f"unknown set {name}")
    segment_all(pipeline, images, pred, spacing, name)
    summary, curves = evaluate_folder(pred, truth_dir, mias_info, negatives, images_dir,
                                      pipeline if images_dir else None, spacing, bootstrap)
    if truth_dir is not None and "calcification" in curves:
        summary["missed_by"] = miss_breakdown(pred, truth_dir, curves["calcification"])
    if name == "mini-mias":
        summary["normals_calcification_fp"] = normal_false_positives(pred, normal)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(summary, curves, work, f"{title} on {name}")
    return summary


#: The sets made by the generator (the others are real images in ../shared/data).
GENERATED = ("synthetic", "real-background", "ffdm-like", "vendor-0.07mm")


def ensure_data(name: str, data: Path) -> Path:
    """The images and ground truth of a generated set, written the first time (fixed seeds), and again where
    its crops of a vendor file were made before the generator carried the file's DetectorType (the same
    pixels; the header routes them)."""
    if data.is_dir() and not _stale_vendor_crops(data):
        return data
    shutil.rmtree(data, ignore_errors=True)
    if name == "synthetic":
        generate_dataset(data, 20, 9000, config=SynthConfig(), progress=False)
    elif name == "real-background":
        backgrounds = sorted((CBIS / "sfm-malign-0").rglob("*.dcm"))
        generate_dataset(data, 10, 9100, mode="real-background", backgrounds=backgrounds,
                         progress=False, prefix="realbg")
    elif name == "ffdm-like":
        make_ffdm_like(data)
    elif name == "vendor-0.07mm":
        make_vendor_fine(data)
    else:
        raise ValueError(f"{name} is not a generated set")
    return data


def _stale_vendor_crops(data: Path, pattern: str = "*.dcm") -> bool:
    """Whether the first vendor image of ``data`` (GE or Siemens, by name) lacks its file's DetectorType."""
    import pydicom

    crops = [p for p in sorted(data.glob(pattern)) if p.name.startswith(("ge-", "siemens-", "GH133", "OutOfBounds"))]
    return bool(crops) and "DetectorType" not in pydicom.dcmread(crops[0], stop_before_pixels=True)


def mias_references() -> tuple[list[str], list[str]]:
    """The mini-MIAS images of the evaluation: every one with CALC rows, and the held-out normals."""
    rows = [line.split() for line in (MIAS / "Info.txt").read_text().splitlines() if line.startswith("mdb")]
    calc = sorted({r[0] for r in rows if r[2] == "CALC"})
    normal = sorted({r[0] for r in rows if r[2] == "NORM" and int(r[0][3:]) >= MIAS_FIRST_HELD_OUT})
    return calc, normal


def vendor_files_at(folder: Path, spacing_mm: float) -> dict[str, Path]:
    """The GE and Siemens vendor files resampled to ``spacing_mm`` (as the generator resamples, pixel
    centres kept) and written under their own names, which the background findings are keyed by: the
    generator never makes a real background finer than its own pixel."""
    from mcseg.io.dicom_write import write_mammogram_dicom
    from mcseg.synth.dataset import read_background

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("GH133.dcm", "OutOfBoundsOverlay.dcm"):
        out[name] = folder / name
        if not out[name].is_file() or _stale_vendor_crops(folder, name):
            background = read_background(VENDOR / name, target_spacing_mm=spacing_mm)
            pixels = np.clip(np.rint(background.image), 0, None).astype(np.uint16)
            write_mammogram_dicom(out[name], pixels, spacing_mm=(spacing_mm, spacing_mm),
                                  laterality=background.laterality, bits_stored=max(12, int(pixels.max()).bit_length()),
                                  detector_type=background.detector_type)
    return out


def make_vendor_fine(data: Path) -> None:
    """Write the vendor-0.07mm set (see the module docstring); each group has its own seed and prefix."""
    files = vendor_files_at(data.parent / "backgrounds-0.07mm", 0.07)
    config = SynthConfig(contrast_range=(2.0, 20.0))
    for prefix, name, eight_bit, seed in (("ge-007", "GH133.dcm", 0.0, 9221), ("ge-007-8bit", "GH133.dcm", 1.0, 9222),
                                          ("siemens-007", "OutOfBoundsOverlay.dcm", 0.0, 9223),
                                          ("siemens-007-8bit", "OutOfBoundsOverlay.dcm", 1.0, 9224)):
        generate_dataset(data, 3, seed, mode="real-background", backgrounds=[files[name]], config=config,
                         progress=False, prefix=prefix, eight_bit_share=eight_bit)


def make_ffdm_like(data: Path) -> None:
    """Write the ffdm-like set (see the module docstring); each group has its own seed and prefix."""
    config = SynthConfig(contrast_range=(2.0, 20.0))
    groups = [  # prefix, background, pixel sizes, 8-bit, seed
        ("ge-native", VENDOR / "GH133.dcm", (0.0941,), 0.0, 9201),
        ("ge-014-8bit", VENDOR / "GH133.dcm", (0.14,), 1.0, 9202),
        ("siemens-native", VENDOR / "OutOfBoundsOverlay.dcm", (0.085,), 0.0, 9203),
        ("siemens-014-8bit", VENDOR / "OutOfBoundsOverlay.dcm", (0.14,), 1.0, 9204),
    ]
    for prefix, background, spacings, eight_bit, seed in groups:
        generate_dataset(data, 3, seed, mode="real-background", backgrounds=[background], config=config,
                         progress=False, prefix=prefix, spacings_mm=spacings, eight_bit_share=eight_bit)
    for spacing, seed in ((0.07, 9211), (0.1, 9212), (0.14, 9213)):
        generate_dataset(data, 3, seed, config=config, progress=False, prefix=f"phantom-{round(spacing * 1000)}um",
                         spacings_mm=(spacing,), ffdm_share=1.0, eight_bit_share=0.5)


#: Real calcifications of the real backgrounds, reviewed by eye (how: in each file): ignore regions of
#: the sets that insert synthetic calcifications into them.
BACKGROUND_FINDINGS = {"ffdm-like": VENDOR / "background_findings.json",
                       "vendor-0.07mm": VENDOR / "background_findings.json",
                       "real-background": ROOT / "benchmarks" / "cbis_background_findings.json"}


def mark_background_findings(data: Path, name: str = "ffdm-like", score_them: bool = False) -> None:
    """Write each real-background crop's background findings into its gt.json as ``ignore`` circles (or
    take them out with ``score_them``). A set made before the generator recorded its crop windows is
    made again (the same seeds give the same images)."""
    reviewed = json.loads(BACKGROUND_FINDINGS[name].read_text())["files"]
    docs = {path: json.loads(path.read_text()) for path in sorted(data.glob("*.gt.json"))}
    if any(doc.get("source") in reviewed and "background_window_px" not in doc for doc in docs.values()):
        print(f"{data}: made before crop windows were recorded; making it again")
        shutil.rmtree(data)
        ensure_data(name, data)
        docs = {path: json.loads(path.read_text()) for path in sorted(data.glob("*.gt.json"))}
    for path, doc in docs.items():
        if doc.get("source") not in reviewed:
            continue
        doc.pop("ignore", None)
        if not score_them:
            entry = reviewed[doc["source"]]
            doc["ignore"] = background_findings_in_crop(doc, entry["findings"], entry["spacing_mm"])
        path.write_text(json.dumps(doc, indent=1))


def cbis_truth(folder: Path, score_them: bool = False) -> Path:
    """Ground truth of the cbis-negatives set: no calcification, and the reviewed real calcifications of
    P_00820's films as ignore circles (none with ``score_them``). The films without a file are plain
    negatives."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if not score_them:
        for name, entry in json.loads(BACKGROUND_FINDINGS["real-background"].read_text())["files"].items():
            spacing = [entry["spacing_mm"]] * 2
            doc = {"spacing_mm": spacing, "calcifications": [], "clusters": [],
                   "ignore": [{"centre_px": f["centre_px"], "radius_mm": f["radius_mm"]} for f in entry["findings"]]}
            (folder / f"{Path(name).stem}.gt.json").write_text(json.dumps(doc, indent=1))
    return folder


def normal_false_positives(pred_dir: Path, normals: list[str]) -> dict:
    """Calcifications in the mask per real normal image (every one is a false positive)."""
    counts = [sum(c["in_mask"] for c in json.loads((pred_dir / f"{ref}.json").read_text())["calcifications"])
              for ref in normals if (pred_dir / f"{ref}.json").is_file()]
    if not counts:
        return {}
    return {"images": len(counts), "mean": round(float(np.mean(counts)), 3), "median": float(np.median(counts)),
            "max": int(max(counts)), "share_at_most_1": round(float(np.mean(np.array(counts) <= 1)), 3)}


def cnr_band(contrast: float) -> str:
    lo, hi = next((lo, hi) for lo, hi in CNR_BANDS if contrast < hi)
    return f"CNR {lo:g}-{hi:g}" if hi != float("inf") else f"CNR >= {lo:g}"


def band(contrast: float) -> str:
    return next((name for name, (lo, hi, _) in CONTRAST_BANDS.items() if contrast < hi), "obvious")


def size(diameter_mm: float) -> str:
    return "< 0.2 mm" if diameter_mm < 0.2 else "0.2-0.5 mm" if diameter_mm < 0.5 else ">= 0.5 mm"


def miss_breakdown(pred_dir: Path, truth_dir: Path, curve, fppi: float = 1.0) -> dict:
    """Share of the generator's calcifications found at the ``fppi`` point, by contrast band, size and shape.

    Found = a listed calcification scoring at least the threshold of that FROC
    point lies within HIT_RADIUS_MM (0.5 mm) of its centre (the FROC's one-to-one matching is
    not applied here, so these shares can run slightly above its sensitivity).
    """
    threshold = curve.threshold_at(fppi)
    groups: dict[str, dict[str, list[bool]]] = {"contrast": {}, "diameter": {}, "shape": {}, "contrast x diameter": {},
                                                "cnr": {}, "pixel size": {}}
    for doc_path in sorted(pred_dir.glob("*.json")):
        doc = json.loads(doc_path.read_text())
        gt_path = truth_dir / f"{doc_path.name[:-5]}.gt.json"
        if not gt_path.is_file():
            continue
        gt = json.loads(gt_path.read_text())
        strong = np.array([c["centroid_px"] for c in doc["calcifications"] if c["score"] >= threshold]).reshape(-1, 2)
        spacing = np.array(gt["spacing_mm"])
        for calc in gt["calcifications"]:
            d_mm = np.hypot(*((strong - np.array(calc["centroid_px"])) * spacing).T) if len(strong) else np.zeros(0)
            found = bool((d_mm <= HIT_RADIUS_MM).any())
            keys = {"contrast": band(calc["contrast"]), "diameter": size(calc["diameter_mm"]), "shape": calc["shape"],
                    "cnr": cnr_band(calc["contrast"]), "pixel size": f"{spacing[0]:.3g} mm"}
            keys["contrast x diameter"] = f"{keys['contrast']}, {keys['diameter']}"
            for group, key in keys.items():
                groups[group].setdefault(key, []).append(found)
    return {"fppi": fppi, "threshold": round(threshold, 4),
            **{group: {key: {"found": round(float(np.mean(v)), 3), "n": len(v)} for key, v in sorted(by.items())}
               for group, by in groups.items()}}


def breakdown_table(results: dict) -> str:
    """Markdown: share found at 1 FP/image by contrast band x diameter, per synthetic set."""
    lines = []
    for name, s in results.items():
        miss = s.get("missed_by")
        if not miss:
            continue
        sizes = ["< 0.2 mm", "0.2-0.5 mm", ">= 0.5 mm"]
        lines += [f"\n{name}: share found at {miss['fppi']:g} FP/image (threshold {miss['threshold']}), n in brackets\n",
                  "| contrast | " + " | ".join(sizes) + " | all sizes |", "|---|---|---|---|---|"]
        for contrast in CONTRAST_BANDS:
            cells = [miss["contrast x diameter"].get(f"{contrast}, {d}") for d in sizes] + [miss["contrast"].get(contrast)]
            lines.append(f"| {contrast} | " + " | ".join(f"{c['found']:.2f} ({c['n']})" if c else "-" for c in cells)
                         + " |")
        cells = [miss["diameter"].get(d) for d in sizes]
        lines.append("| all | " + " | ".join(f"{c['found']:.2f} ({c['n']})" if c else "-" for c in cells) + " | |")
        for group in ("cnr", "pixel size"):
            by = miss.get(group) or {}
            keys = sorted(by, key=lambda k: float(k.split()[-1].split("-")[0]) if group == "cnr"
                          else float(k.split()[0]))
            if keys:
                lines += ["", f"| {group} | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys),
                          "| found | " + " | ".join(f"{by[k]['found']:.2f} ({by[k]['n']})" for k in keys) + " |"]
    return "\n".join(lines) + "\n"


def table(results: dict) -> str:
    lines = ["| set | images | calcifications: sensitivity at 0.25 / 0.5 / 1 / 2 / 4 FP/image | AUFROC 0-50 | "
             "clusters: sensitivity at 0.1 / 0.2 / 0.5 / 1 FP/image | FP/image at the operating point | Dice | "
             "s/image |", "|---|---|---|---|---|---|---|---|"]
    for name, s in results.items():
        calc, cl = s.get("calcification", {}), s.get("cluster", {})
        sens = " / ".join(f"{v:.3f}" for v in calc.get("sensitivity_at_fppi", {}).values()) or "n/a"
        auc = f"{calc['aufroc_0_50']:.3f}" if "aufroc_0_50" in calc else "n/a"
        csens = " / ".join(f"{v:.3f}" for v in cl.get("sensitivity_at_fppi", {}).values()) or "n/a"
        fp = calc.get("operating_point", {}).get("fppi", calc.get("fppi_at_operating_point", "n/a"))
        if name == "mini-mias":
            fp = f"{cl.get('fppi_all_predicted')} clusters"
        dice = s.get("overlap", {}).get("dice_set", "n/a") if s.get("calcification", {}).get("truth") else "n/a"
        lines.append(f"| {name} | {s['images']} | {sens} | {auc} | {csens} | {fp} | {dice} | "
                     f"{s.get('seconds_per_image', {}).get('mean', 'n/a')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
