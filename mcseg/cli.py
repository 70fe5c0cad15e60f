"""Command line: ``mcseg segment | train | synth | demo``.

Exit codes: 0 success, 1 internal error, 2 bad input or arguments (every
input that failed is named with the reason; the others are still processed).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from mcseg import __version__, defaults

#: The demo images ship inside the package, so `mcseg demo` works from an installed wheel.
DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"

log = logging.getLogger("mcseg")


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("models and thresholds")
    g.add_argument("--detector", type=Path, help="detector checkpoint (default: the bundled weights)")
    g.add_argument("--segmentator", type=Path, help="segmentator checkpoint (default: the bundled weights)")
    g.add_argument("--detector-threshold", type=float,
                   help=f"detector probability that sends a window to the segmentator "
                        f"(default {defaults.DETECTOR_THRESHOLD})")
    g.add_argument("--max-flagged-share", type=float,
                   help="window budget: at most this share of the windows goes to the segmentator, the "
                        "highest-scoring ones; the JSON says how many were left out (default "
                        f"{defaults.MAX_FLAGGED_SHARE:g}: no budget)")
    g.add_argument("--operating-threshold", type=float,
                   help=f"segmentator probability that puts a pixel in the mask (default: the threshold "
                        f"calibrated into the segmentator weights, else {defaults.OPERATING_THRESHOLD})")
    g.add_argument("--candidate-threshold", type=float,
                   help=f"lowest probability still listed as a candidate in the JSON, for FROC sweeps "
                        f"(default {defaults.CANDIDATE_THRESHOLD})")
    g.add_argument("--segmentator-path", choices=("dense", "reference"),
                   help="dense: all pixels at once (fast, exact for the 'valid' segmentator); reference: one "
                        "N x N patch per pixel as in the paper (slow). Default dense")
    g.add_argument("--symmetries", type=int, choices=range(1, 9), metavar="{1..8}",
                   help="average the segmentator over this many of the 8 rotations/mirrorings of the image "
                        f"(test-time augmentation; 1 = off, default {defaults.SEGMENTATOR_SYMMETRIES})")
    g.add_argument("--symmetry-refine-above", type=float, metavar="P",
                   help="run the further symmetry views only where the first view's probability reaches P "
                        f"(0 = everywhere; default {defaults.SYMMETRY_REFINE_ABOVE}): much cheaper on real tissue")
    g.add_argument("--time-budget-s", type=float, metavar="S",
                   help="time budget per image: the further symmetry views stop when the next would not fit "
                        "in S seconds (the first always runs; the JSON's symmetry_views says how many ran). "
                        "Default: no budget")
    g.add_argument("--device", help="where the networks run: auto (CUDA when present, else CPU; the default), "
                                    "cpu, cuda, cuda:1 ...")
    g.add_argument("--backend", choices=defaults.INFERENCE_BACKENDS,
                   help="what runs the networks on a CPU: auto (ONNX Runtime where installed, else PyTorch; the "
                        "default), torch or onnxruntime; the decisions are the same")
    g.add_argument("--working-spacing-mm", type=float,
                   help=f"pixel size the networks work at; must match the weights (default: the weights' own, "
                        f"{defaults.WORKING_SPACING_MM} mm for the bundled ones; inputs of "
                        f"{defaults.COARSE_INPUT_MIN_SPACING_MM} mm and coarser go to the bundled coarse weights at "
                        f"{defaults.COARSE_WORKING_SPACING_MM} mm where they are shipped, unless this is set)")
    g.add_argument("--fine-outline", action=argparse.BooleanOptionalAction, default=None,
                   help=f"redraw the outline of what the coarse weights find with the 0.07 mm segmentator, for "
                        f"inputs of at most {defaults.FINE_OUTLINE_MAX_SPACING_MM} mm except those within "
                        f"{defaults.FINE_OUTLINE_SKIP_NEAR_WORKING_MM} mm of the coarse weights' own "
                        f"{defaults.COARSE_WORKING_SPACING_MM} mm (default: "
                        f"{'on' if defaults.FINE_OUTLINE else 'off'})")
    g.add_argument("--coarse-from-mm", type=_pixel_size_mm, metavar="MM", dest="coarse_input_min_spacing_mm",
                   help=f"inputs whose pixel is MM or coarser go to the bundled coarse weights (default "
                        f"{defaults.COARSE_INPUT_MIN_SPACING_MM}; 0.08 keeps native 0.06-0.08 mm images on the "
                        f"0.07 mm weights, which find more on phantoms and film at that pixel and fewer on real FFDM)")
    g.add_argument("--native-alone-below-mm", type=_native_alone_edge_mm, metavar="MM", dest="native_alone_below_mm",
                   help=f"native FFDM from {defaults.RETRAINED_FINE_MAX_SPACING_MM} mm up to MM (0.11 covers GE's 0.094 "
                        f"and Siemens' 0.085 mm) goes to the native networks alone instead of the coarse weights "
                        f"(default: {defaults.NATIVE_ALONE_BELOW_MM}; which inputs: --native-alone-inputs). Held out "
                        f"on real GE and Siemens anatomy they find about a fifth more; on digitised film and "
                        f"phantoms of those pixels they find less (README, Native GE and Siemens detector images)")
    g.add_argument("--native-alone-inputs", choices=defaults.NATIVE_ALONE_INPUT_KINDS, dest="native_alone_inputs",
                   help=f"which inputs of that band go to the native networks alone: those whose DICOM header names "
                        f"a digital detector (DetectorType DIRECT, SCINTILLATOR or STORAGE), all of them, or none "
                        f"(default: {defaults.NATIVE_ALONE_INPUTS})")
    g.add_argument("--native-band-classifier", action=argparse.BooleanOptionalAction, default=None,
                   help=f"with --native-alone-inputs detector, send that band's other inputs (phantoms, digitised film, "
                        f"headers without the record), and those of {defaults.NATIVE_BAND_FROM_MM} mm up to it, to the "
                        f"native networks with their band classifier; --no-native-band-classifier sends the band's to the "
                        f"coarse weights and leaves the finer ones with the native classifier (default: "
                        f"{'on' if defaults.NATIVE_BAND_CLASSIFIER else 'off'})")
    g.add_argument("--no-candidate-classifier", action="store_true",
                   help="score candidates by the segmentator alone, without the second-stage classifier that "
                        "the weights' folder may hold (candidate_classifier.npz)")
    g.add_argument("--classifier-threshold", type=float, metavar="P",
                   help="candidate classifier probability that puts a calcification in the mask (default: the "
                        "threshold calibrated into the classifier, 1 false positive per typical mammogram); lower "
                        "finds more calcifications and clusters for more false positives")
    g.add_argument("--cluster-threshold", type=float, metavar="P",
                   help="candidates the classifier scores at least P join the mask where they form a cluster "
                        "(default: the classifier's own, calibrated at 4 false positives per typical mammogram; "
                        "for the native networks alone, which serve GE and Siemens detector images, P is on their "
                        "segmentator's scale and their default the listing threshold; 1 = only the operating "
                        "threshold counts)")


def _labelled_cases(folders: list[Path]) -> list | None:
    """The labelled images of ``folders`` (a baseline's training data); None, said on stderr, when
    there are none."""
    from mcseg.training import find_cases

    cases = [c for folder in folders for c in find_cases(folder)]
    if not cases:
        print(f"error: no labelled images in {', '.join(map(str, folders))}", file=sys.stderr)
        return None
    return cases


def _train_parser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A baseline's training command: DATA folders, -o OUT (set_defaults gives its default), and the
    pixel size, seed and progress options every trainer takes."""
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("data", type=Path, nargs="+", help="folders of images and their labels")
    parser.add_argument("-o", "--out", type=Path, help="output folder")
    parser.add_argument("--spacing-mm", type=float, help="pixel size of the images, overriding their files'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _model_parser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A baseline's inference command: images or folders, -o OUT (set_defaults gives its default), and
    the pixel size and progress options every model takes."""
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("inputs", type=Path, nargs="+", help="images or folders")
    parser.add_argument("-o", "--out", type=Path, help="output folder")
    parser.add_argument("--spacing-mm", type=float, help="pixel size for files that carry none")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcseg",
        description="Detect and segment breast microcalcifications and clusters (two-stage CNN, "
                    "Valvano et al. 2019). Research software: not for clinical use.",
    )
    parser.add_argument("--version", action="version", version=f"mcseg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="segment mammograms into S.mask.nrrd and S.json",
                         description="Segment each input (DICOM MG/DX/CR/SC, PNG/TIFF, NRRD/NIfTI; folders "
                                     "are searched) and write S.mask.nrrd (uint8, the input's geometry) and "
                                     "S.json (calcifications, clusters, assumptions) into the output folder.")
    seg.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    seg.add_argument("-o", "--out", type=Path, default=Path("out"), help="output folder (default ./out)")
    seg.add_argument("--spacing-mm", type=float,
                     help="pixel size in mm, overriding the file's (needed for PNG/TIFF and files without "
                          f"a spacing tag; otherwise {defaults.FALLBACK_SPACING_MM} mm is assumed and recorded)")
    seg.add_argument("--preview", action="store_true",
                     help="also write S.preview.png: the image with calcifications outlined, candidates marked, "
                          "clusters boxed and the densest cluster zoomed")
    seg.add_argument("--workers", type=int, default=1,
                     help="segment with this many processes, the CPU cores shared out among them (default 1)")
    seg.add_argument("--threads", type=int, default=None,
                     help="PyTorch threads per worker (default: the cores shared out among the workers); "
                          "outputs are identical byte for byte at equal threads per worker")
    seg.add_argument("--overwrite", action="store_true",
                     help="segment images whose S.json is already in the output folder (default: skip them, "
                          "so an interrupted folder resumes)")
    seg.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_pipeline_options(seg)

    wts = sub.add_parser("weights", help="which networks serve which pixel size (and each given image)",
                         description="Print the pixel bands of the inputs and the networks that serve each with "
                                     "these options (the bundled native, film and coarse weights by default), and "
                                     "for each given image its pixel size, where it came from and its networks. "
                                     "Nothing is segmented.")
    wts.add_argument("inputs", nargs="*", type=Path, help="image files or folders (optional)")
    wts.add_argument("--spacing-mm", type=float, help="pixel size in mm, overriding the files'")
    _add_pipeline_options(wts)

    demo = sub.add_parser("demo", help="segment the bundled demo images with the default weights",
                          description=f"Segment the images in {DEMO_DIR} and print a summary.")
    demo.add_argument("-o", "--out", type=Path, default=Path("demo-out"), help="output folder (default ./demo-out)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")

    train = sub.add_parser("train", help="train the detector and the segmentator on (image, label) pairs",
                           description="Build the SQLite patch store from every image S.* in DATA that has a "
                                       "label S.gt.nrrd (see --label-suffix), then train the detector and the "
                                       "segmentator (Adam, lr 1e-3, balanced minibatches of 256, lr halved on "
                                       "plateau, early stopping). Writes OUT/detector.pt, OUT/segmentator.pt, "
                                       "OUT/patches-<N>px.sqlite and OUT/training.json. A stopped run resumes. "
                                       f"{defaults.VALIDATION_PERCENT}% of the images, chosen by a hash of the "
                                       "file name, are held out for validation. Under `torchrun --nproc_per_node N "
                                       "-m mcseg train ...` N processes train together (DDP; gloo on CPUs, NCCL "
                                       "on GPUs), each on its share of every minibatch.")
    train.add_argument("data", type=Path, help="folder of images and their labels")
    train.add_argument("-o", "--out", type=Path, default=Path("runs/train"), help="output folder")
    train.add_argument("--label-suffix", default=".gt.nrrd", help="label file suffix (default .gt.nrrd)")
    train.add_argument("--role", choices=("both", "detector", "segmentator"), default="both")
    train.add_argument("--patch-size", type=int, choices=defaults.PATCH_SIZES_PX, default=defaults.PATCH_SIZE_PX,
                       help="patch side N in pixels (default 49)")
    train.add_argument("--detector-padding", choices=("same", "valid"), default=defaults.DETECTOR_PADDING)
    train.add_argument("--segmentator-padding", choices=("same", "valid"), default=defaults.SEGMENTATOR_PADDING)
    for role in ("detector", "segmentator"):
        train.add_argument(f"--{role}-channels", type=int, nargs=6, metavar="C", default=defaults.CONV_CHANNELS,
                           help=f"the {role}'s six convolution widths (default "
                                f"{' '.join(map(str, defaults.CONV_CHANNELS))}; wider: more capacity, slower)")
    train.add_argument("--steps", type=int, default=defaults.MAX_STEPS,
                       help=f"maximum steps per network (default {defaults.MAX_STEPS})")
    train.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    train.add_argument("--validate-every", type=int, default=defaults.VALIDATE_EVERY)
    train.add_argument("--spacing-mm", type=float, help="pixel size of the images, overriding their files'")
    train.add_argument("--working-spacing-mm", type=float, default=defaults.WORKING_SPACING_MM)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--mining-rounds", type=int, default=defaults.MINING_ROUNDS,
                       help="rounds of hard-negative mining, each followed by fine-tuning "
                            f"(default {defaults.MINING_ROUNDS})")
    train.add_argument("--calibrate-fppi", type=float, default=defaults.CALIBRATION_TARGET_FPPI,
                       help="set the operating threshold on the validation images so that they get at most this "
                            f"many false positives per image (default {defaults.CALIBRATION_TARGET_FPPI:g}; "
                            f"0 keeps {defaults.OPERATING_THRESHOLD})")
    train.add_argument("--start-round", type=int, default=0,
                       help="continue from OUT's checkpoints at this mining round (0 = train from scratch)")
    train.add_argument("--finetune-steps", type=int, default=None,
                       help="maximum steps per network per mining round (default: --steps; early stopping "
                            "usually ends a round sooner)")
    train.add_argument("--init-from", type=Path, metavar="DIR",
                       help="start both networks from DIR/detector.pt and DIR/segmentator.pt (for instance "
                            "mcseg/weights) at the fine-tuning learning rate, instead of from random weights")
    train.add_argument("--rebuild-store", action="store_true", help="rebuild the patch store even if present")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if a stopped run is found")
    train.add_argument("--no-progress", action="store_true")

    tc = sub.add_parser("train-classifier", help="train the second-stage candidate classifier",
                        description="Run the networks on every labelled image S.* of DATA (label S.gt.nrrd), "
                                    "label each listed candidate by the evaluation's hit rule, fit the candidate "
                                    "classifier on the training split and calibrate its threshold to 1 FP per "
                                    "typical mammogram (128 cm^2 of breast) on the validation split. Writes OUT/candidate_classifier.npz (put it next to "
                                    "segmentator.pt to use it), OUT/candidate_classifier.json and the harvest "
                                    "OUT/candidates.npz (reused when present).")
    tc.add_argument("data", type=Path, nargs="+", help="folders of images and their labels")
    tc.add_argument("-o", "--out", type=Path, default=Path("runs/candidate-classifier"), help="output folder")
    tc.add_argument("--weights", type=Path, help="folder with detector.pt and segmentator.pt (default: bundled)")
    tc.add_argument("--candidate-peaks-mm", type=float, metavar="MM",
                    help="list every probability peak at least MM apart as a candidate (of 0.3 and more; weaker "
                         "regions keep one at their peak) instead of one per region; the classifier records it and "
                         "pipelines that load it list candidates the same way")
    tc.add_argument("--spacing-mm", type=float, help="pixel size of the images, overriding their files'")
    tc.add_argument("--seed", type=int, default=0)
    tc.add_argument("--no-progress", action="store_true")

    tcc = _train_parser(sub, "train-cluster-cnn", help="train Luna-Lozoya et al.'s shallow cluster CNN (a baseline)",
                        description="Cut 1 cm^2 patches (144 x 144 px at 0.07 mm) from every labelled image S.* "
                                    "of DATA: positive where at least 6 calcifications of a cluster lie inside, "
                                    "negative where none does. Train the 8,301-parameter CNN (BCE, Adam, batch "
                                    "64, rotations and flips) and keep the epoch of best validation accuracy. "
                                    "Writes OUT/cluster_cnn.pt and OUT/cluster_cnn.json.")
    tcc.set_defaults(out=Path("runs/cluster-cnn"))
    tcc.add_argument("--epochs", type=int, default=defaults.CLUSTER_CNN_MAX_EPOCHS,
                     help=f"epochs (default {defaults.CLUSTER_CNN_MAX_EPOCHS}, the paper's)")
    tcc.add_argument("--per-cluster", type=int, default=8, help="positive patches per cluster (default 8)")
    tcc.add_argument("--negatives", type=int, default=8, help="negative patches per image (default 8)")

    cl = _model_parser(sub, "clusters", help="cluster-probability map and cluster candidates (Luna-Lozoya CNN)",
                       description="Run the shallow cluster CNN over the breast of each image at a stride and "
                                   "write S.json (the output contract, with clusters and no calcifications; "
                                   "`mcseg evaluate` scores it at cluster level) and S.clusters.nrrd (1 where a "
                                   "window at or above the threshold lies).")
    cl.set_defaults(out=Path("clusters-out"))
    cl.add_argument("--weights", type=Path, help="cluster_cnn.pt (default: the bundled weights)")
    cl.add_argument("--stride-px", type=int, default=defaults.CLUSTER_MAP_STRIDE_PX,
                    help=f"window stride at the working pixel (default {defaults.CLUSTER_MAP_STRIDE_PX})")
    cl.add_argument("--threshold", type=float, help=f"default {defaults.CLUSTER_CNN_THRESHOLD} (the paper's)")

    tu = _train_parser(sub, "train-unet", help="train Marita et al.'s U-Net for calcifications (a baseline)",
                       description="Cut 128 x 128 px ROIs (0.07 mm) from every labelled image S.* of DATA: one "
                                   "centred on each finding, 4 copies with the centre shifted at random, and a few "
                                   "at random breast positions. Train MONAI's U-Net with pixel-weighted binary "
                                   "cross-entropy (Adam, batch 8) and keep the epoch of best validation Dice. "
                                   "Writes OUT/unet.pt and OUT/unet.json.")
    tu.set_defaults(out=Path("runs/unet"))
    tu.add_argument("--epochs", type=int, default=defaults.UNET_MAX_EPOCHS,
                    help=f"epochs (default {defaults.UNET_MAX_EPOCHS}, the paper's)")
    tu.add_argument("--max-minutes", type=float, help="start no epoch after this many minutes of training")
    tu.add_argument("--finding", choices=("calcification", "mass"), default="calcification",
                    help="what the labels outline: calcifications (128 px ROIs at 0.07 mm, the default) or "
                         "masses (256 px at 0.2 mm, the paper's 1024 px film ROIs downsampled by 4)")
    tu.add_argument("--background-rois", type=int, default=defaults.UNET_BACKGROUND_ROIS,
                    help=f"ROIs at random breast positions per image (default {defaults.UNET_BACKGROUND_ROIS})")

    un = _model_parser(sub, "unet", help="calcification mask from Marita et al.'s U-Net (a baseline)",
                       description="Run the U-Net over the breast in non-overlapping 128 x 128 px tiles and write "
                                   "S.json (the output contract: calcifications and clusters; `mcseg evaluate` "
                                   "scores it as it scores the pipeline) and S.mask.nrrd.")
    un.set_defaults(out=Path("unet-out"))
    un.add_argument("--weights", type=Path, help="unet.pt (default: the bundled weights for calcifications)")
    un.add_argument("--masses", action="store_true", help="the bundled weights for masses (unet_masses.pt)")
    un.add_argument("--threshold", type=float, help=f"default {defaults.UNET_THRESHOLD} (the paper's)")

    tcs = _train_parser(sub, "train-cortina", help="train Cortina et al.'s SVM cascade (pipeline 1, a baseline)",
                        description="Propose candidates in every labelled image S.* of DATA (grayscale morphology "
                                    "or difference of Gaussians), label them (true when the 14 px circle at the "
                                    "centre meets the ground truth), compute the 139 features of their 14 x 14 px "
                                    "patches and train the two-stage RBF-SVM cascade. Writes "
                                    "OUT/cortina_svm_cascade.npz and OUT/cortina_svm_cascade.json.")
    tcs.set_defaults(out=Path("runs/cortina"))
    tcs.add_argument("--candidates", choices=("gm", "dog"), default="gm",
                     help="grayscale morphology (default, the report's choice) or difference of Gaussians")
    tcs.add_argument("--C", type=float, default=1.0, help="the SVMs' C (default 1)")

    co = _model_parser(sub, "cortina", help="calcifications from Cortina et al.'s pipeline 1 (a baseline)",
                       description="Candidates, features and the SVM cascade on each image; writes S.json (the "
                                   "output contract; `mcseg evaluate` scores it) and S.mask.nrrd.")
    co.set_defaults(out=Path("cortina-out"))
    co.add_argument("--weights", type=Path, help="cortina_svm_cascade.npz (default: the bundled one)")
    co.add_argument("--candidates", choices=("gm", "dog"), help="default: the method the cascade was trained on")

    tcr = _train_parser(sub, "train-cortina-resnet",
                        help="train Cortina et al.'s ResNet patch classifier (pipeline 2, a baseline)",
                        description="Cut 16 x 16 px patches at 0.07 mm from every labelled image S.* of DATA (each "
                                    "calcification centred, with shifted copies; background patches at random breast "
                                    "positions), train the ResNet-based classifier on balanced minibatches and keep "
                                    "the epoch of best validation AUROC. Writes OUT/cortina_resnet.pt and "
                                    "OUT/cortina_resnet.json.")
    tcr.set_defaults(out=Path("runs/cortina-resnet"))
    tcr.add_argument("--epochs", type=int, default=30, help="epochs at most (default 30, the report's)")
    tcr.add_argument("--steps-per-epoch", type=int, default=200, help="minibatches per epoch (default 200)")
    tcr.add_argument("--max-minutes", type=float, help="start no epoch after this many minutes")

    cr = _model_parser(sub, "cortina-resnet", help="calcifications from Cortina et al.'s pipeline 2 (a baseline)",
                       description="The ResNet patch classifier in a stride-8 sliding window, the smoothed saliency "
                                   "map's local maxima as detections; writes S.json (the output contract; `mcseg "
                                   "evaluate` scores it) and S.mask.nrrd.")
    cr.set_defaults(out=Path("cortina-resnet-out"))
    cr.add_argument("--weights", type=Path, help="cortina_resnet.pt (default: the bundled one)")

    tcd = _train_parser(sub, "train-cortina-detector",
                        help="train Cortina et al.'s sliding-window CNN detector (pipeline 3, a baseline)",
                        description="Cut 224 x 224 px windows at 0.07 mm on a stride-100 grid from every labelled "
                                    "image S.* of DATA, keeping those that hold calcifications, with a 14 x 14 px box "
                                    "on each; train MONAI's RetinaNet over the pipeline 2 backbone (started from "
                                    "--backbone) and keep the epoch of best validation AP at IoU 0.5. Writes "
                                    "OUT/cortina_detector.pt and OUT/cortina_detector.json.")
    tcd.set_defaults(out=Path("runs/cortina-detector"))
    tcd.add_argument("--epochs", type=int, default=15, help="epochs at most (default 15, the report's)")
    tcd.add_argument("--steps-per-epoch", type=int, default=100, help="minibatches per epoch (default 100)")
    tcd.add_argument("--max-minutes", type=float, help="start no epoch after this many minutes")
    tcd.add_argument("--backbone", default="bundled",
                     help="cortina_resnet.pt to start the backbone from (default: the bundled one; 'none': scratch)")

    cd = _model_parser(sub, "cortina-detector", help="calcifications from Cortina et al.'s pipeline 3 (a baseline)",
                       description="The CNN detector on 224 px windows of stride 200, detections fused by "
                                   "non-maximum suppression; writes S.json (the output contract; `mcseg evaluate` "
                                   "scores it) and S.mask.nrrd (the boxes of the detections at the threshold).")
    cd.set_defaults(out=Path("cortina-detector-out"))
    cd.add_argument("--weights", type=Path, help="cortina_detector.pt (default: the bundled one)")

    synth = sub.add_parser("synth", help="generate synthetic mammograms with exact ground truth",
                           description="Write S.dcm (MG DICOM with pixel spacing), S.gt.nrrd (calcification "
                                       "mask) and S.gt.json (calcifications and clusters) per image.")
    synth.add_argument("out", type=Path, help="output folder")
    synth.add_argument("-n", "--count", type=int, default=10, help="number of images (default 10)")
    synth.add_argument("--seed", type=int, default=0, help="image i uses the seed (seed, i)")
    synth.add_argument("--mode", choices=("synthetic", "real-background", "mixed"), default="synthetic",
                       help="synthetic tissue, calcifications inserted into real mammograms, or both")
    synth.add_argument("--backgrounds", type=Path,
                       help="folder of real mammogram DICOMs for --mode real-background/mixed")
    synth.add_argument("--shape", type=int, nargs=2, metavar=("ROWS", "COLS"), help="image size in pixels")
    synth.add_argument("--spacing-mm", type=float, default=defaults.WORKING_SPACING_MM)
    synth.add_argument("--real-share", type=float, default=0.5,
                       help="--mode mixed: share of images on a real background (default 0.5)")
    synth.add_argument("--pixel-sizes-mm", type=float, nargs="+", metavar="MM",
                       help="draw each image's pixel size from these (the field of view of --shape at "
                            "--spacing-mm is kept): real inputs arrive at 0.05-0.2 mm")
    synth.add_argument("--ffdm-share", type=float, default=0.0,
                       help="share of synthetic images given an FFDM-like look (vendor processing)")
    synth.add_argument("--eight-bit-share", type=float, default=0.0,
                       help="share of images stored as 8-bit values in 16 bits")
    synth.add_argument("--assumed-spacing-mm", type=float, default=0.05,
                       help="pixel size of backgrounds that carry none (default 0.05, CBIS-DDSM film)")
    synth.add_argument("--contrast-range", type=float, nargs=2, metavar=("LO", "HI"),
                       help="calcification contrast drawn uniformly in [LO, HI] times the local noise "
                            "(default: 20%% faint 1.5-3, 50%% medium 3-6, 30%% obvious 6-15)")
    synth.add_argument("--prefix", default="synth", help="file name prefix (default synth)")
    synth.add_argument("--no-progress", action="store_true")
    neg = sub.add_parser("negatives", help="real mammograms without calcifications as training cases",
                         description="Write each input as S.dcm (MG DICOM with its pixel size) with an empty "
                                     "label S.gt.nrrd, so that `mcseg train` learns real anatomy as background and "
                                     "mines its false positives there.")
    neg.add_argument("out", type=Path, help="output folder (may be the training data folder)")
    neg.add_argument("inputs", nargs="+", type=Path, help="image files or folders, free of calcifications")
    neg.add_argument("--spacing-mm", type=float, help="pixel size of inputs that carry none (mini-MIAS: 0.2)")
    neg.add_argument("--prefix", default="neg_", help="file name prefix (default neg_)")
    neg.add_argument("--mias-masses", type=Path, metavar="INFO_TXT",
                     help="mini-MIAS Info.txt: an input with mass rows there gets the masses' discs as its label "
                          "(training data for `mcseg train-unet --finding mass`)")
    neg.add_argument("--no-progress", action="store_true")
    ev = sub.add_parser("evaluate", help="FROC, Dice/IoU and the per-class error table of a set of predictions",
                        description="Compare the predictions in PREDICTIONS (S.json and S.mask.nrrd, as written by "
                                    "`mcseg segment`) with ground truth: S.gt.json or a mask S.gt.nrrd/S.nrrd/"
                                    "S.png... in --truth, or a mini-MIAS Info.txt (--mias-info). Writes "
                                    "OUT/summary.json, OUT/froc.png and OUT/report.md.")
    ev.add_argument("predictions", type=Path, help="folder of predictions (the output contract)")
    ev.add_argument("--truth", type=Path, help="folder of ground truth (S.gt.json, or a mask file per image)")
    ev.add_argument("--mias-info", type=Path, help="mini-MIAS Info.txt (cluster-level truth; y from the bottom)")
    ev.add_argument("--negatives-without-truth", action="store_true",
                    help="count images that have no ground-truth file as negatives (otherwise an error)")
    ev.add_argument("--images", type=Path,
                    help="folder of the images the predictions came from: adds the per-class patch error table "
                         "of the weights (use held-out images only)")
    ev.add_argument("--detector", type=Path, help="detector weights for the table (default: bundled)")
    ev.add_argument("--segmentator", type=Path, help="segmentator weights for the table (default: bundled)")
    ev.add_argument("--spacing-mm", type=float, help="pixel size of the images, for the table")
    ev.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    ev.add_argument("--title", default="Evaluation", help="title of the report")
    ev.add_argument("-o", "--out", type=Path, default=Path("evaluation"), help="output folder")
    return parser


def _native_alone_edge_mm(text: str) -> float:
    """An argparse type: the upper edge of the native-alone band, above its lower edge and at most 0.2 mm."""
    value = _pixel_size_mm(text)
    if not defaults.RETRAINED_FINE_MAX_SPACING_MM < value <= 0.2:
        raise argparse.ArgumentTypeError(f"{value:g} mm: the band starts at {defaults.RETRAINED_FINE_MAX_SPACING_MM} "
                                         f"mm, so its upper edge must lie above that and at most 0.2 mm")
    return value


def _pixel_size_mm(text: str) -> float:
    """An argparse type: a pixel size in (0, 1] mm."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of mm") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} mm is not a pixel size in (0, 1] mm")
    return value


def _pipeline_from_args(args):
    from mcseg.pipeline import Pipeline

    # Options left unset stay None, so the weights' own values (calibrated threshold,
    # trained pixel size) apply; a value given on the command line always wins.
    config = defaults.PipelineConfig().with_(
        detector_threshold=getattr(args, "detector_threshold", None),
        max_flagged_share=getattr(args, "max_flagged_share", None),
        operating_threshold=getattr(args, "operating_threshold", None),
        candidate_threshold=getattr(args, "candidate_threshold", None),
        segmentator_path=getattr(args, "segmentator_path", None),
        segmentator_symmetries=getattr(args, "symmetries", None),
        symmetry_refine_above=getattr(args, "symmetry_refine_above", None),
        time_budget_s=getattr(args, "time_budget_s", None),
        device=getattr(args, "device", None),
        backend=getattr(args, "backend", None),
        working_spacing_mm=getattr(args, "working_spacing_mm", None),
        coarse_input_min_spacing_mm=getattr(args, "coarse_input_min_spacing_mm", None),
        native_alone_below_mm=getattr(args, "native_alone_below_mm", None),
        native_alone_inputs=getattr(args, "native_alone_inputs", None),
        native_band_classifier=getattr(args, "native_band_classifier", None),
        fine_outline=getattr(args, "fine_outline", None),
        use_candidate_classifier=False if getattr(args, "no_candidate_classifier", False) else None,
        classifier_threshold=getattr(args, "classifier_threshold", None),
        cluster_threshold=getattr(args, "cluster_threshold", None),
    )
    return Pipeline.from_weights(getattr(args, "detector", None), getattr(args, "segmentator", None), config)


def _collect_inputs(paths: list[Path]) -> list[Path]:
    from mcseg.io import IMAGE_SUFFIXES

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)
                           and ".gt." not in p.name and ".mask." not in p.name)
            if not found:
                log.error("%s: no images found in this folder", path)
            files += found
        else:
            files.append(path)
    return files


def cmd_segment(args) -> int:
    return _segment_files(args, _collect_inputs(args.inputs), args.out, args.spacing_mm,
                          progress=not args.no_progress, preview=args.preview, workers=args.workers,
                          overwrite=args.overwrite, threads=args.threads)


def _segment_files(args, files: list[Path], out: Path, spacing_mm: float | None, progress: bool,
                   compare_truth: bool = False, preview: bool = False, workers: int = 1,
                   overwrite: bool = True, threads: int | None = None) -> int:
    from mcseg.batch import BatchJob, segment_batch

    if not files:
        print("error: no input images", file=sys.stderr)
        return 2
    pipeline = _pipeline_from_args(args)  # built here too, so that bad weights or options fail before any work
    job = BatchJob(out=out, config=pipeline.given_config, detector=getattr(args, "detector", None),
                   segmentator=getattr(args, "segmentator", None), spacing_mm=spacing_mm, preview=preview,
                   threads=threads)

    def report(outcome) -> None:
        if outcome.error:
            print(f"error: {outcome.error}", file=sys.stderr)
            return
        extra = f", {outcome.written['preview']}" if "preview" in outcome.written else ""
        print(f"{outcome.path}: {outcome.calcifications} calcifications, {outcome.clusters} clusters, "
              f"{outcome.seconds:.1f} s -> {outcome.written['mask']}{extra}")
        truth_path = outcome.path.with_name(f"{outcome.stem}.gt.nrrd")
        if compare_truth and truth_path.is_file():
            print(f"  vs ground truth: {_compare_with_truth(Path(outcome.written['json']), truth_path)}")
        for note in outcome.notes:
            print(f"  note: {note}")

    summary = segment_batch(files, job, workers=workers, overwrite=overwrite, progress=progress, on_outcome=report,
                            pipeline=pipeline)
    if summary.skipped:
        print(f"skipped {len(summary.skipped)} image(s) already segmented in {out} (--overwrite redoes them)")
    return 2 if summary.failed else 0


def _compare_with_truth(result_json: Path, truth_path: Path) -> str:
    import json

    from mcseg.evaluation import match_listed
    from mcseg.io import read_label

    doc = json.loads(result_json.read_text())
    match = match_listed(doc["calcifications"], read_label(truth_path), tuple(doc["spacing_mm"]), in_mask_only=True)
    return (f"found {int(match.hits.sum())} of {match.n_truth} inserted calcifications, "
            f"{int((~match.hits).sum())} false positives")


def cmd_weights(args) -> int:
    from mcseg.io import read_mammogram

    pipeline = _pipeline_from_args(args)
    routes = pipeline.routes()
    print(f"{'input pixel size':<30}{'networks (folder)':<26}{'works at':<10}{'views':<7}operating point")
    for band in routes:
        lo, hi = band["from_mm"], band["below_mm"]
        span = (f"below {hi:g} mm" if lo == 0 and hi is not None else "any" if lo == 0
                else f"{lo:g} mm and coarser" if hi is None else f"{lo:g} to <{hi:g} mm")
        if band["inputs"] != "any":
            span += ", detector" if band["inputs"] == "digital detector" else ", other"
        point = (f"classifier {band['operating_point']:.4f}" if band["candidate_classifier"]
                 else f"segmentator {band['operating_point']:.4f}")
        print(f"{span:<30}{_shown(Path(band['segmentator']).parent):<26}{band['working_spacing_mm']:g} mm"
              f"{'':<3}{band['symmetry_views']:<7}{point}")
    if pipeline.config.fine_outline and any(band["pipeline"] is pipeline.coarse and band["from_mm"]
                                            < defaults.FINE_OUTLINE_MAX_SPACING_MM for band in routes):
        outliner = _shown(Path(pipeline.weights["segmentator"]["path"]).parent)
        at = pipeline.coarse.config.working_spacing_mm
        print(f"(the coarse networks' outlines of inputs of at most {defaults.FINE_OUTLINE_MAX_SPACING_MM:g} mm, but "
              f"not within {defaults.FINE_OUTLINE_SKIP_NEAR_WORKING_MM:g} mm of their own {at:g} mm, are redrawn at "
              f"{pipeline.config.working_spacing_mm:g} mm by {outliner})")
    failed = 0
    for path in _collect_inputs(args.inputs) if args.inputs else []:
        try:
            mammo = read_mammogram(path, spacing_mm=args.spacing_mm)
        except Exception as exc:  # a file that cannot be read is reported, the others still are
            print(f"{path}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        served = pipeline.for_input(mammo)
        folder = _shown(Path(served.weights["segmentator"]["path"]).parent)
        detector = f", DetectorType {mammo.detector_type}" if mammo.detector_type else ""
        print(f"{path}: {mammo.spacing_mm[0]:g} x {mammo.spacing_mm[1]:g} mm ({mammo.spacing_source}{detector}) -> "
              f"{folder} at {served.config.working_spacing_mm:g} mm")
    return 2 if failed else 0


def _shown(path: Path) -> str:
    """A weights folder as a reader knows it: relative to the mcseg package where it is inside it."""
    package = Path(__file__).resolve().parent
    resolved = path.resolve()
    return f"mcseg/{resolved.relative_to(package)}" if resolved.is_relative_to(package) else str(path)


def cmd_demo(args) -> int:
    if not DEMO_DIR.is_dir():
        print(f"error: demo folder {DEMO_DIR} is missing", file=sys.stderr)
        return 1
    code = _segment_files(args, _collect_inputs([DEMO_DIR]), args.out, None,
                          progress=not args.no_progress, compare_truth=True, preview=True)
    print(f"\nResults in {args.out.resolve()}: look at S.preview.png; S.json lists the calcifications and "
          "clusters; S.mask.nrrd overlays the image in 3D Slicer.")
    return code


def cmd_train(args) -> int:
    from mcseg.training import TrainingPlan, distributed, train_from_scratch

    # Under `torchrun --nproc_per_node N -m mcseg train ...` the processes join one group;
    # --batch-size stays the global minibatch (each process takes its share).
    shard = distributed.setup_from_env()

    config = defaults.TrainConfig(max_steps=args.steps, batch_size=args.batch_size,
                                  validate_every=args.validate_every, seed=args.seed)
    plan = TrainingPlan(
        data=args.data, out=args.out, label_suffix=args.label_suffix,
        roles=("detector", "segmentator") if args.role == "both" else (args.role,),
        patch_size_px=args.patch_size,
        padding={"detector": args.detector_padding, "segmentator": args.segmentator_padding},
        conv_channels={"detector": tuple(args.detector_channels), "segmentator": tuple(args.segmentator_channels)},
        train=config, finetune_steps=args.finetune_steps, mining_rounds=args.mining_rounds,
        calibrate_fppi=args.calibrate_fppi, working_spacing_mm=args.working_spacing_mm,
        spacing_mm=args.spacing_mm, start_round=args.start_round, rebuild_store=args.rebuild_store,
        resume=not args.no_resume, command=args.command_line, init_from=args.init_from)
    try:
        train_from_scratch(plan, progress=not args.no_progress and shard.is_main,
                           on_message=print if shard.is_main else (lambda message: None))
        # Every rank waits until rank 0 has written training.json, then leaves (see distributed.leave).
        return distributed.leave(0)
    finally:
        distributed.teardown()


def cmd_train_classifier(args) -> int:
    from mcseg.training.candidate_classifier import train_candidate_classifier

    try:
        report = train_candidate_classifier(args.data, args.out, args.weights, args.spacing_mm, args.seed,
                                            progress=not args.no_progress, peak_separation_mm=args.candidate_peaks_mm)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'candidate_classifier.npz'}; choice rule: {report['choice_rule']}: "
          f"{'adopt' if report['adopt'] else 'do not adopt'}")
    return 0


def cmd_synth(args) -> int:
    from mcseg.synth import SynthConfig, generate_dataset

    config = SynthConfig(spacing_mm=args.spacing_mm,
                         contrast_range=tuple(args.contrast_range) if args.contrast_range else None)
    if args.shape:
        config = replace(config, shape_px=tuple(args.shape))
    backgrounds = []
    if args.mode != "synthetic":
        if not args.backgrounds or not args.backgrounds.is_dir():
            print("error: --mode real-background/mixed needs --backgrounds FOLDER of DICOMs", file=sys.stderr)
            return 2
        backgrounds = sorted(args.backgrounds.rglob("*.dcm"))
    written = generate_dataset(args.out, args.count, args.seed, mode=args.mode, backgrounds=backgrounds,
                               config=config, progress=not args.no_progress, prefix=args.prefix,
                               assumed_spacing_mm=args.assumed_spacing_mm, real_share=args.real_share,
                               spacings_mm=args.pixel_sizes_mm or (), ffdm_share=args.ffdm_share,
                               eight_bit_share=args.eight_bit_share)
    print(f"wrote {len(written)} images to {args.out}")
    return 0


def cmd_negatives(args) -> int:
    from tqdm import tqdm

    from mcseg.evaluation.truth import read_mias_masses
    from mcseg.synth.dataset import write_negative

    masses = read_mias_masses(args.mias_masses) if args.mias_masses else {}
    sources = [p for src in args.inputs for p in (sorted(q for q in src.rglob("*") if q.is_file()) if src.is_dir()
                                                  else [src])]
    for source in tqdm(sources, desc="real negatives", unit="image", disable=args.no_progress):
        ref = source.name.split('.')[0]
        write_negative(source, args.out, f"{args.prefix}{ref}", spacing_mm=args.spacing_mm, masses=masses.get(ref))
    with_masses = sum(1 for s in sources if s.name.split('.')[0] in masses)
    print(f"wrote {len(sources)} cases to {args.out}" + (f", {with_masses} with masses" if masses else ""))
    return 0


def cmd_evaluate(args) -> int:
    from mcseg.evaluation.report import evaluate_folder, write_report
    from mcseg.pipeline import Pipeline

    if not args.truth and not args.mias_info and not args.negatives_without_truth:
        print("error: give --truth FOLDER or --mias-info Info.txt (or --negatives-without-truth)", file=sys.stderr)
        return 2
    pipeline = Pipeline.from_weights(args.detector, args.segmentator) if args.images else None
    summary, curves = evaluate_folder(args.predictions, args.truth, args.mias_info, args.negatives_without_truth,
                                      args.images, pipeline, args.spacing_mm, args.bootstrap)
    paths = write_report(summary, curves, args.out, args.title)
    print(paths["report"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _rank_zero_writes(command):
    """A baseline trainer that also runs under `torchrun --nproc_per_node N -m mcseg train-...`: every
    rank prepares the same training data (same seed) and trains its share of each minibatch on the CPU
    (gloo; these networks are small), and rank 0 alone shows progress and writes the weights."""

    @functools.wraps(command)
    def run(args) -> int:
        from mcseg.training import distributed

        shard = distributed.setup_from_env(cpu_only=True)
        args.no_progress = args.no_progress or not shard.is_main
        try:
            # No rank leaves the group while another still works (see distributed.leave).
            return distributed.leave(command(args))
        finally:
            distributed.teardown()

    return run


def _writes_here() -> bool:
    from mcseg.training import distributed

    return distributed.current().is_main


@_rank_zero_writes
def cmd_train_cluster_cnn(args) -> int:
    import json

    from mcseg.baselines.cluster_presence import patches_of_cases, save_cluster_cnn, train_cluster_cnn

    cases = _labelled_cases(args.data)
    if cases is None:
        return 2
    patches = patches_of_cases(cases, args.seed, args.per_cluster, args.negatives, spacing_mm=args.spacing_mm,
                               progress=not args.no_progress)
    result = train_cluster_cnn(patches["train"], patches["val"], args.epochs, seed=args.seed,
                               progress=not args.no_progress)
    if not _writes_here():
        return 0
    counts = {split: {"patches": int(len(p.y)), "positives": int(p.y.sum())} for split, p in patches.items()}
    path = save_cluster_cnn(result, args.out / "cluster_cnn.pt", trained_on=counts, trained_with=args.command_line)
    report = {"checkpoint": str(path), "images": len(cases), "patches": counts, "best_epoch": result.best_epoch,
              "validation": result.validation, "seconds": round(result.seconds, 1), "history": result.history}
    (args.out / "cluster_cnn.json").write_text(json.dumps(report, indent=1))
    print(f"best epoch {result.best_epoch}/{args.epochs}: validation {result.validation}; wrote {path}")
    return 0


def _model_over_inputs(args, model, desc: str, label_suffix: str, label_names: dict[int, str]) -> int:
    """Run a baseline model over ``args.inputs``: S.json (the output contract) and S.<suffix>.nrrd per
    image; an unreadable input is logged and makes the exit code 2, the others go on."""
    import json

    from tqdm.auto import tqdm

    from mcseg.batch import output_stems
    from mcseg.io.errors import InputError
    from mcseg.io.reader import read_mammogram
    from mcseg.io.writer import write_label

    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path, stem in tqdm(output_stems(_collect_inputs(args.inputs)), desc=desc, unit="image",
                           disable=args.no_progress):
        try:
            mammo = read_mammogram(path, spacing_mm=args.spacing_mm)
        except InputError as exc:
            log.error("%s", exc)
            failed += 1
            continue
        result = model.run(mammo)
        (args.out / f"{stem}.json").write_text(json.dumps(result.to_json(), indent=1))
        write_label(result.label_map(), mammo, args.out / f"{stem}.{label_suffix}.nrrd", label_names)
    return 2 if failed else 0


def cmd_clusters(args) -> int:
    from mcseg.baselines.cluster_presence import ClusterPresence

    kwargs = {"stride_px": args.stride_px} | ({"threshold": args.threshold} if args.threshold is not None else {})
    model = ClusterPresence.from_weights(args.weights, **kwargs)
    return _model_over_inputs(args, model, "clusters", "clusters", {1: "cluster"})


@_rank_zero_writes
def cmd_train_unet(args) -> int:
    import json

    from mcseg.baselines.unet_segmentation import FINDINGS, rois_of_cases, save_unet, train_unet

    cases = _labelled_cases(args.data)
    if cases is None:
        return 2
    finding = FINDINGS[args.finding]
    rois = rois_of_cases(cases, args.seed, background=args.background_rois, spacing_mm=args.spacing_mm,
                         progress=not args.no_progress, working_spacing_mm=finding["working_spacing_mm"],
                         roi_px=finding["roi_px"])
    result = train_unet(rois["train"], rois["val"], args.epochs, seed=args.seed, max_minutes=args.max_minutes,
                        progress=not args.no_progress, finding=args.finding)
    if not _writes_here():
        return 0
    counts = {split: {"rois": len(r), "rois_with_calcification": int(r.y.reshape(len(r), -1).any(1).sum()),
                      "images": len(set(r.image_ids))} for split, r in rois.items()}
    name = "unet" if args.finding == "calcification" else "unet_masses"
    path = save_unet(result, args.out / f"{name}.pt", trained_on=counts, trained_with=args.command_line)
    report = {"checkpoint": str(path), "images": len(cases), "rois": counts, "best_epoch": result.best_epoch,
              "positive_weight": result.positive_weight, "validation": result.validation,
              "seconds": round(result.seconds, 1), "history": result.history}
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=1))
    print(f"best epoch {result.best_epoch}/{len(result.history)}: validation {result.validation}; wrote {path}")
    return 0


def cmd_unet(args) -> int:
    from mcseg.baselines.unet_segmentation import DEFAULT_MASS_WEIGHTS, UNetSegmentation

    weights = args.weights or (DEFAULT_MASS_WEIGHTS if args.masses else None)
    model = UNetSegmentation.from_weights(weights, **({} if args.threshold is None
                                                            else {"threshold": args.threshold}))
    return _model_over_inputs(args, model, "U-Net", "mask", {1: model.finding})


def cmd_train_cortina(args) -> int:
    import json

    from mcseg.baselines.cortina.model import training_data, train_pipeline1

    cases = _labelled_cases(args.data)
    if cases is None:
        return 2
    started = time.perf_counter()
    data = training_data(cases, args.candidates, args.seed, args.spacing_mm, progress=not args.no_progress)
    cascade = train_pipeline1(data, args.seed, args.C)
    cascade.meta |= {"candidate_method": args.candidates, "C": args.C, "trained_with": args.command_line,
                     "trained_on": {s: {"candidates": int(len(y)), "positives": int(y.sum())} for s, y in data.y.items()},
                     "seconds": round(time.perf_counter() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = cascade.save(args.out / "cortina_svm_cascade.npz")
    (args.out / "cortina_svm_cascade.json").write_text(json.dumps(cascade.meta, indent=1))
    print(f"trained the cascade: {json.dumps(cascade.meta)}; wrote {path}")
    return 0


def cmd_cortina(args) -> int:
    from mcseg.baselines.cortina.model import CortinaPipeline1

    model = CortinaPipeline1.from_weights(args.weights, args.candidates)
    return _model_over_inputs(args, model, "Cortina", "mask", {1: "calcification"})


@_rank_zero_writes
def cmd_train_cortina_resnet(args) -> int:
    import json

    from mcseg.baselines.cortina.resnet import save_weights, train_resnet, training_patches

    cases = _labelled_cases(args.data)
    if cases is None:
        return 2
    patches = training_patches(cases, args.seed, args.spacing_mm, progress=not args.no_progress)
    try:
        model, report = train_resnet(patches, args.epochs, args.steps_per_epoch, args.max_minutes, args.seed,
                                     progress=not args.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _writes_here():
        return 0
    report |= {"trained_with": args.command_line, "images": len(cases)}
    path = save_weights(model, report, args.out / "cortina_resnet.pt")
    (args.out / "cortina_resnet.json").write_text(json.dumps(report, indent=1))
    print(f"trained the ResNet classifier: best epoch {report['best_epoch']}, validation AUROC "
          f"{report['val_auroc']}; wrote {path}")
    return 0


def cmd_cortina_resnet(args) -> int:
    from mcseg.baselines.cortina.resnet import CortinaResNetModel

    return _model_over_inputs(args, CortinaResNetModel.from_weights(args.weights), "Cortina ResNet", "mask",
                              {1: "calcification"})


@_rank_zero_writes
def cmd_train_cortina_detector(args) -> int:
    import json

    from mcseg.baselines.cortina import detection
    from mcseg.baselines.cortina.resnet import DEFAULT_WEIGHTS as RESNET_WEIGHTS

    cases = _labelled_cases(args.data)
    if cases is None:
        return 2
    backbone = {"bundled": RESNET_WEIGHTS, "none": None}.get(args.backbone, args.backbone)
    if backbone is not None and not Path(backbone).is_file():
        print(f"error: no backbone weights at {backbone}", file=sys.stderr)
        return 2
    windows = detection.training_windows(cases, args.seed, args.spacing_mm, progress=not args.no_progress)
    try:
        detector, report = detection.train_detector(windows, args.epochs, args.steps_per_epoch, args.max_minutes,
                                                    args.seed, backbone, progress=not args.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _writes_here():
        return 0
    report |= {"trained_with": args.command_line, "images": len(cases)}
    path = detection.save_weights(detector, report, args.out / "cortina_detector.pt")
    (args.out / "cortina_detector.json").write_text(json.dumps(report, indent=1))
    print(f"trained the detector: best epoch {report['best_epoch']}, validation AP50 {report['val_ap50']}; "
          f"wrote {path}")
    return 0


def cmd_cortina_detector(args) -> int:
    from mcseg.baselines.cortina.detection import CortinaDetectorModel

    return _model_over_inputs(args, CortinaDetectorModel.from_weights(args.weights), "Cortina detector", "mask",
                              {1: "calcification"})


COMMANDS = {"segment": cmd_segment, "demo": cmd_demo, "train": cmd_train, "synth": cmd_synth,
            "negatives": cmd_negatives, "weights": cmd_weights, "train-classifier": cmd_train_classifier,
            "evaluate": cmd_evaluate, "train-cluster-cnn": cmd_train_cluster_cnn, "clusters": cmd_clusters,
            "train-unet": cmd_train_unet, "unet": cmd_unet, "train-cortina": cmd_train_cortina,
            "cortina": cmd_cortina, "train-cortina-resnet": cmd_train_cortina_resnet,
            "cortina-resnet": cmd_cortina_resnet, "train-cortina-detector": cmd_train_cortina_detector,
            "cortina-detector": cmd_cortina_detector}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["mcseg", *(sys.argv[1:] if argv is None else argv)])  # recorded in checkpoints
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from mcseg.io.errors import InputError
    from mcseg.pipeline import DeviceError, WeightsError
    from mcseg.runtime import keep_freed_memory

    keep_freed_memory()
    started = time.perf_counter()
    try:
        code = COMMANDS[args.command](args)
    except (WeightsError, DeviceError, FileNotFoundError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    log.info("done in %.1f s", time.perf_counter() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
