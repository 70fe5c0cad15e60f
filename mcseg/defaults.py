"""Every default of the method, in one place, with where it comes from.

"Valvano 2019" is G. Valvano et al., "Convolutional Neural Networks for the
Segmentation of Microcalcification in Mammography Imaging", J. Healthcare
Engineering 2019 (section numbers refer to it). Values marked "ours" are choices
of this project, with the reason next to them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# --- Patches and networks -----------------------------------------------------

#: Patch side N in pixels. Valvano 2019 sec. 4: 29, 39 and 49 tested, 49 best.
PATCH_SIZE_PX = 49
PATCH_SIZES_PX = (29, 39, 49)

#: Class C2 holds patches whose nearest calcification pixel lies within this
#: Euclidean distance of the centre (the centre itself not calcified).
#: Valvano 2019 sec. 3.3: "calcifications in a range of 2 to 3 pixels from the
#: center". The paper's pixels were 0.05 mm; ours are measured at the working
#: pixel size (WORKING_SPACING_MM), i.e. 3 px = 0.21 mm, because the networks
#: see working-resolution pixels and the class is defined on their input.
C2_MAX_DISTANCE_PX = 3.0

#: Convolution padding: Valvano 2019 sec. 4 found "same" best for both networks.
#: Ours: the segmentator defaults to "valid" because only a valid network can be
#: evaluated densely with exactly the per-patch result (sec. 3.1's per-pixel
#: classification of every window pixel would otherwise take minutes on a CPU);
#: Table 2 puts it 1.1 points of patch accuracy behind "same".
DETECTOR_PADDING = "same"
SEGMENTATOR_PADDING = "valid"

#: Channels of the six 3x3 convolutions. The paper's Figure 3 (widths) is not
#: reproduced in its text; ours: measured 4.7x faster than (16, 16, 32, 32, 32, 32)
#: on 2 CPU cores, which keeps a full mammogram within 20 s.
CONV_CHANNELS = (8, 16, 16, 16, 32, 32)
#: Valvano 2019 sec. 3.4: fully connected layer of 64 units, 50% dropout, 2 outputs.
FC_UNITS = 64
DROPOUT = 0.5

# --- Training (Valvano 2019 sec. 3.4) ------------------------------------------
LEARNING_RATE = 1e-3          # Adam
BATCH_SIZE = 256              # balanced positive/negative minibatches
LR_PLATEAU_FACTOR = 0.5       # "manually halved this value when the loss plateaued"
#: Early stopping ("taking the last obtained model configuration before ...
#: overfitting"): the best validation checkpoint is kept, and training stops
#: after this many validations without improvement (ours; 0 = never stops early).
EARLY_STOPPING_PATIENCE = 8
#: Validations without improvement before the learning rate is halved (ours:
#: the paper halved it "manually").
PLATEAU_PATIENCE = 3
#: Step cap of one training run and how often it validates (ours: CPU-sized).
MAX_STEPS = 3000
VALIDATE_EVERY = 100
#: Validation patches drawn once per run: fixed, balanced, not augmented (ours).
VALIDATION_PATCHES = 4096

# --- Patch sampling (Valvano 2019 sec. 3.3) -------------------------------------
#: Patches taken per image and class. Ours: enough variety per image while
#: keeping one image from dominating the store. C4 gets three kinds of centre:
#: random breast pixels, bright local maxima (calcification look-alikes) and
#: the skin line (Valvano 2019 sec. 5 reports false positives there).
PATCHES_PER_IMAGE = {"C1": 300, "C2": 300, "C3": 300, "C4_random": 300, "C4_bright": 300, "C4_edge": 100}
#: A "bright" C4 centre is a local maximum over this window whose normalised
#: value (units of local noise, see preprocess.normalise) exceeds the floor. Ours.
BRIGHT_PEAK_WINDOW_PX = 7
BRIGHT_PEAK_MIN_NOISE_UNITS = 2.5
#: "Skin line" C4 centres lie within this many working pixels of the breast edge
#: (15 px = 1 mm at 0.07 mm). Ours.
SKIN_LINE_DEPTH_PX = 15
#: Minibatch shares per patch class: half positive, half negative (Valvano 2019
#: sec. 3.3); each half split evenly over its classes (ours), so the hard
#: classes C2 and C3 are seen as often as the easy ones. Keys are class numbers.
BATCH_CLASS_SHARES = {
    "detector": {1: 1 / 6, 2: 1 / 6, 3: 1 / 6, 4: 1 / 2},
    "segmentator": {1: 1 / 2, 2: 1 / 6, 3: 1 / 6, 4: 1 / 6},
}

# --- Training recipe (ours: `mcseg train` and retraining from saved labels) -----
#: Share of the labelled images held out for validation, chosen by a hash of
#: the image id so that an image keeps its split as more labels arrive.
VALIDATION_PERCENT = 20
#: Rounds of hard-negative mining after the first training (Sung and Poggio
#: 1998; not in Valvano 2019): each adds the networks' false positives on the
#: training images as their own negative group and fine-tunes both networks.
MINING_ROUNDS = 1
#: Most mined patches kept per image and network: the highest-scoring ones.
MINED_PER_IMAGE = 400
#: Share of each minibatch taken from the mined hard negatives, when there are any.
MINED_SHARE = 0.25
#: A mining round fine-tunes at the learning rate times this factor.
FINETUNE_LR_FACTOR = 0.5
#: The operating threshold is calibrated on the validation images to at most
#: this many false positives per image (the FROC operating point reported).
CALIBRATION_TARGET_FPPI = 1.0
#: A candidate classifier's operating threshold is calibrated to CALIBRATION_TARGET_FPPI false
#: positives per mammogram of this much breast, not per validation image: the validation images
#: are crops (40.6 cm^2 of breast on average for the 0.07 mm classifier's, 65.5 for the coarse
#: one's), so one false positive per crop was about three per real mammogram, and the real normal
#: images of the evaluation read 2-5 at the operating point (issue 15 asks for at most 1). Ours
#: (2026-12-07): the median breast area of the 103 mini-MIAS normal films of patients 1-80 (the
#: training side; 104-171 cm^2 between the quartiles), measured with the pipeline's breast mask.
TYPICAL_BREAST_AREA_CM2 = 128.0
#: Candidates that form a cluster join the mask from the classifier threshold at this many false
#: positives per typical mammogram (PipelineConfig.cluster_threshold). Ours (2026-12-07): the
#: operating point's 1 per mammogram cost a quarter to two fifths of the clusters found on the real
#: backgrounds; scattered false positives at 4 per 128 cm^2 seldom put 3 within a cluster's 1 cm^2.
CLUSTER_CALIBRATION_FP = 4.0
#: Retraining from annotators' labels in the app, sized for a CPU (a few
#: minutes on 2 cores): steps, validation interval and early-stopping patience.
RETRAIN_STEPS = 300
#: Learning rate of that retraining (Adam). Ours (2026-12-07, benchmarks/site_retraining.py, second
#: rule, written before its runs): a site's 24 labelled 0.07 mm crops retraining at 5e-4 instead of the
#: from-scratch 1e-3 found 0.814 of vendor-0.07mm at 1 FP/image (1e-3: 0.834; within the rule's 0.02)
#: and raised the mean of the other three sets the retrained networks serve from 0.588 to 0.637; 1e-4
#: found 0.856 but lowered that mean to 0.557 (real-background 0.211).
RETRAIN_LEARNING_RATE = 5e-4
RETRAIN_VALIDATE_EVERY = 50
RETRAIN_EARLY_STOPPING_PATIENCE = 4
#: Rehearsal: generated images of the retrained networks' pixel band (phantoms with synthetic
#: calcifications, mcseg.training.rehearsal) mixed into a site's retraining and into its candidate
#: classifier's refit, so that the networks keep what the bundled ones knew. Retrained on a site's
#: labels alone they forgot it (benchmarks/site_retraining.py: phantoms at the site's pixel size,
#: Dice 0.813 -> 0.087). 0 = off. Ours (2026-12-07, site_retraining.py's fourth rule, written before
#: its run): 24 rehearsal phantoms lowered the site's own images from 0.814 to 0.687 at 1 FP/image and
#: the mean of the other sets those networks serve from 0.637 to 0.534 (film anatomy 0.473 -> 0.154),
#: so it stays off.
RETRAIN_REHEARSAL_IMAGES = 0
#: Pixel sizes of the rehearsal images per band (the classifier folders' recipes: 0.07 mm networks
#: below 0.06 mm, film and 0.05 mm detectors, and 0.06-0.08 mm, native FFDM; coarse networks).
REHEARSAL_SPACINGS_MM = {"film": (0.05, 0.055), "native": (0.06, 0.065, 0.07, 0.075),
                         "coarse": (0.085, 0.094, 0.1, 0.12, 0.14, 0.17, 0.2)}
#: Whole-image pixel Dice after retraining is measured on at most this many images.
RETRAIN_DICE_IMAGES = 5
#: The app starts a retraining run after this many new final labels (0 = never).
TRAIN_AFTER_LABELS = 3


# --- Inference ---------------------------------------------------------------

#: Working pixel size. Ours: 0.07 mm is the native pixel of common FFDM
#: detectors (e.g. Hologic Selenia Dimensions); the paper worked at 0.05 mm.
WORKING_SPACING_MM = 0.07

#: Coarse-pixel weights (mcseg/weights/coarse/, when shipped) work at this pixel and serve inputs
#: whose own pixel is at least COARSE_INPUT_MIN_SPACING_MM. Ours (issues 15, 16): downsampled FFDM
#: copies come at 0.11-0.2 mm (a public Siemens database at 0.114-0.140 mm, mini-MIAS at 0.2 mm);
#: upsampling them 4x to 0.07 mm adds no information and costs 4x the pixels. 0.14 mm is the
#: middle of that range. The range first started at 0.11 mm (the first size no FFDM detector has
#: natively); the rule `benchmarks/choose_weights.py --route-from 0.08`, written before it was run,
#: moved it to 0.08 mm: on the validation images of 0.08-0.11 mm the coarse pipeline found 0.65 of
#: calcifications at 1 FP/image against the fine one's 0.63 (benchmarks/coarse_route_choice.json),
#: so native 0.085-0.1 mm detectors (Siemens, GE) are served at 0.14 mm too. A third rule,
#: `benchmarks/choose_native_route.py` (written before it ran, 2026-12-07), judged on real GE and
#: Siemens anatomy at 0.07 mm that neither side's classifier had seen, moved it to 0.06 mm: the coarse
#: pipeline found 0.584 of 690 calcifications at 1 FP/image against the 0.07 mm one's 0.388
#: (benchmarks/native_route_choice.json), so native 0.065-0.075 mm FFDM (Hologic) goes there too;
#: film digitised at 0.042-0.05 mm keeps the 0.07 mm weights.
COARSE_WORKING_SPACING_MM = 0.14
COARSE_INPUT_MIN_SPACING_MM = 0.06
#: A site's saved labels of inputs finer than RETRAINED_FINE_MAX_SPACING_MM retrain the 0.07 mm networks,
#: coarser ones the coarse networks; once the 0.07 mm segmentator has been retrained on labels of
#: COARSE_INPUT_MIN_SPACING_MM or coarser (native 0.065-0.075 mm FFDM), the 0.07 mm networks serve
#: inputs up to this size again. Ours (2026-12-07, benchmarks/site_retraining.py, its rule written
#: before it ran): 24 labelled 0.07 mm crops of real GE and Siemens anatomy, retraining the 0.07 mm
#: networks as the app does, found 0.834 of the calcifications of vendor-0.07mm at 1 FP/image;
#: retraining the coarse networks on the same labels 0.620; no retraining 0.583. 0.08 mm is the edge
#: the second routing rule set (benchmarks/coarse_route_choice.json); it has not been judged again
#: for retrained networks.
RETRAINED_FINE_MAX_SPACING_MM = 0.08
#: Redraw the outline of each calcification the coarse weights keep with the 0.07 mm segmentator,
#: for inputs whose own pixel is at most FINE_OUTLINE_MAX_SPACING_MM. Ours (issue 15): a 0.14 mm mask
#: drawn back onto a 0.07 mm input is coarser than a calcification of a few tenths of a millimetre
#: (Dice 0.838 -> 0.646 on the 0.07 mm phantoms when they moved to the coarse weights). Decisions, scores and clusters stay the
#: coarse pipeline's; only the mask and the areas change. The margin is where the finer outline may
#: reach beyond the coarse one: half a millimetre, about a coarse pixel's blur on each side and more.
#: On by the rule of benchmarks/choose_outline.py (written before it ran): on 114 training-side images
#: of 0.06-0.1 mm, pooled Dice 0.669 -> 0.769, mean per-image IoU 0.498 -> 0.621, the same
#: calcifications in the mask, 0.15 s more per image (benchmarks/outline_choice.json). Up to 0.2 mm (downsampled
#: copies, mini-MIAS) since 2026-12-08 by the second rule there (--coarser, written before it ran): on 114
#: training-side images of 0.12-0.2 mm, pooled Dice 0.668 -> 0.702, mean per-image IoU 0.669 -> 0.692, the same
#: calcifications in the mask, 0.1 s more per image; at 0.14 mm alone the IoU fell (0.563 -> 0.509 on phantoms and
#: film, 0.571 -> 0.552 on the vendor crops) while 0.12, 0.17 and 0.2 mm gained (benchmarks/outline_choice_coarser.json).
FINE_OUTLINE = True
FINE_OUTLINE_MAX_SPACING_MM = 0.2
#: Except inputs within this of the coarse networks' working pixel (0.13-0.15 mm), which those networks read
#: at their own pixel and outline there without resampling. Ours, by the third rule of choose_outline.py
#: (--at-working-pixel, written before it ran): on 48 fresh images at 0.14 mm the coarse outline's pooled Dice
#: 0.705 against the fine one's 0.696, mean per-image IoU 0.542 against 0.519, higher on every kind of image
#: (benchmarks/outline_choice_working_pixel.json).
FINE_OUTLINE_SKIP_NEAR_WORKING_MM = 0.01
FINE_OUTLINE_MARGIN_MM = 0.5
#: Native FFDM from RETRAINED_FINE_MAX_SPACING_MM up to (not including) this pixel size goes to the native
#: networks alone (no candidate classifier), upsampled to 0.07 mm, instead of the coarse networks, where
#: NATIVE_ALONE_INPUTS says (None: never). Ours (2026-12-07; README, Native weights): held out by vendor on
#: fresh crops of the real GE (0.094 mm) and Siemens (0.085 mm) files at their own pixel, the native networks
#: alone found 0.850 and 0.762 at 1 FP/image against the coarse route's 0.658 and 0.596 (paired bootstrap
#: intervals of the gains +0.137 to +0.255 and +0.132 to +0.212; benchmarks/native_networks_choice_v11.json),
#: but less on phantoms and digitised film of those pixels (0.708 against 0.773, v8): so for digital
#: detector images only, by the eleventh rule. 0.11 mm is where no FFDM detector's pixel lies.
NATIVE_ALONE_BELOW_MM: float | None = 0.11
#: Which inputs of that band go there: "detector", those whose DICOM header names a digital detector
#: (DetectorType DIRECT, SCINTILLATOR or STORAGE; film digitisers write FILM or nothing, and a pixel size
#: cannot tell the two apart: choose_native_networks.py, eleventh rule); "all", every input of the band;
#: "none", no input (the band stays with the coarse weights).
NATIVE_ALONE_INPUTS = "detector"
#: With NATIVE_ALONE_INPUTS "detector", the band's other inputs (phantoms, digitised film, images whose header
#: lost the record) go to the native networks with a classifier fitted over that band (mcseg/weights/native/band/)
#: instead of the coarse weights. Ours (2026-12-07, choose_native_networks.py, thirteenth rule): on 48 fresh
#: phantoms and film crops of the band 0.882 against 0.797 at 1 FP/image (paired bootstrap interval of the gain
#: +0.061 to +0.104), 0.732 against 0.729 at 0.25; on header-stripped vendor crops, held out, GE 0.647 against
#: 0.658 and Siemens 0.773 against 0.596 (benchmarks/native_networks_choice_v13.json).
NATIVE_BAND_CLASSIFIER = True
#: ... and the band classifier ranks the other inputs from this pixel size on: since 2026-12-08 also those of
#: 0.06-0.08 mm, which the native networks serve with the native classifier otherwise (detector images keep it: it
#: saw the vendor crops at 0.07 mm). Ours (choose_native_networks.py, seventeenth rule, written before it ran): on 48
#: new phantoms and film crops of 0.06-0.075 mm, 0.893 against 0.873 at 1 FP/image (paired bootstrap interval of
#: the gain +0.003 to +0.042), 0.801 against 0.738 at 0.25; film 0.835 against 0.787, phantoms 0.925 against 0.926
#: (benchmarks/native_networks_choice_v17.json).
NATIVE_BAND_FROM_MM = 0.06
NATIVE_ALONE_INPUT_KINDS = ("detector", "all", "none")
#: Its decision threshold on the native segmentator's score: 1 false positive per typical mammogram
#: (CALIBRATION_TARGET_FPPI) on the 12 vendor-fold crops of the two files at their own pixel
#: (runs/vendor-fold; 0.848 of their calcifications found there), which the native networks did not
#: train on though they saw other crops of the same two breasts. Measured by
#: benchmarks/choose_native_networks.py --calibrate-alone.
NATIVE_ALONE_DECISION_THRESHOLD = 0.9848
#: Its threshold at CLUSTER_CALIBRATION_FP false positives per typical mammogram on the same crops (0.870
#: of their calcifications found there; --calibrate-alone): with the decision threshold, the anchors of the
#: map that reports its scores on the coarse classifier's scale (Pipeline.score_scale).
NATIVE_ALONE_THRESHOLD_AT_4_FP = 0.9774

#: Plausible pixel sizes of a mammogram, in mm. Ours: FFDM detectors have
#: 0.05-0.1 mm pixels, digitised film 0.025-0.05 mm, mini-MIAS is stored at
#: 0.2 mm, and downsampled PACS exports reach about 0.3 mm; outside this range
#: the value is a corrupt or mistaken header, and every size in mm would be wrong.
MIN_PIXEL_SIZE_MM = 0.02
MAX_PIXEL_SIZE_MM = 0.5

#: Pixel size used when a file carries none (CBIS-DDSM Secondary Captures,
#: PNGs). Ours: DDSM film was digitised at 0.042-0.05 mm. The output records it.
FALLBACK_SPACING_MM = 0.05

#: A DICOM whose EstimatedRadiographicMagnificationFactor is at least this is a magnification view:
#: its ImagerPixelSpacing (at the detector) is divided by the factor to give the pixel size at the
#: breast, which the measurements and the resampling use, so that calcifications reach the networks
#: at the physical size they were trained on. Ours: contact views carry factors of about 1.04-1.15
#: (the breast support sits above the detector; 1.043 on the Siemens sample), magnification views
#: 1.5-2.0 (the range mammography QC guidelines give for magnification), so 1.2 separates them.
#: Below it the detector's pixel stands, as before, and the output notes the factor.
MAGNIFICATION_VIEW_MIN_FACTOR = 1.2

#: Window stride = N // 2: windows overlap by at least N/2 (Valvano 2019 sec. 3.1).
#: Detector probability above which a window goes to the segmentator. Ours: the
#: detector is a recall stage, so its threshold sits below 0.5.
DETECTOR_THRESHOLD = 0.3
#: Window budget: at most this share of a mammogram's windows goes to the segmentator
#: (the highest-scoring ones); the JSON's ``detector_windows`` says how many were left
#: out. Off by default (1.0): measured on 2 cores, mini-MIAS mdb153, the slowest image of
#: the evaluation sets, has 2,052 of its 7,303 windows flagged (28%; the synthetic and
#: real-background sets flag at most 9.4%), and a 0.25 budget left out 226 of them yet
#: still took 73 s, against a 6.5 s median for the set: a share does not bound that case,
#: and a tighter one would change results. An opt-in bound until the speed work lands.
MAX_FLAGGED_SHARE = 1.0
#: Segmentator probability that makes a pixel part of the mask (operating point).
OPERATING_THRESHOLD = 0.5
#: Lowest segmentator probability still listed as a candidate, so that a FROC
#: curve can be swept below the operating point. Ours.
CANDIDATE_THRESHOLD = 0.1
#: Mask components at most this far apart are one calcification. Ours: at the
#: operating threshold an irregular or faint calcification often breaks into
#: pieces one or two pixels apart; listed separately, every piece after the
#: first is a false positive (on the 20 synthetic evaluation images this alone
#: moved sensitivity at 1 FP/image from 0.64 to 0.74). 0.14 mm = 2 px at 0.07 mm.
FRAGMENT_GAP_MM = 0.14
#: Sub-threshold candidates are looked for only this far from a calcification,
#: so that the halo of a calcification is not listed as a second one. Ours.
CANDIDATE_RIM_MM = 0.28
#: Sub-threshold candidates: None lists one per connected region of the candidate-level mask (its
#: peak); a distance lists every local maximum of the probability there at least this far apart.
#: Ours (issue 15, 2026-12-07): on the vendor-0.07mm evaluation set 94% of calcifications have a
#: segmentator probability of 0.5 or more within 0.5 mm, but only 62.5% a listed candidate there,
#: because on real tissue the candidate-level mask joins them into regions whose one peak lies
#: elsewhere. Off by default until the candidate classifiers are refitted on such candidates.
CANDIDATE_PEAK_SEPARATION_MM: float | None = None
#: The segmentator's probabilities are averaged over this many of the 8
#: rotations/mirrorings of the image (test-time augmentation; 1 = off). Ours:
#: with the session-3 weights on the 20 synthetic evaluation images it moved
#: sensitivity at 1 FP/image from 0.831 to 0.873 (4) and 0.884 (8), for about
#: 8x the segmentator stage's time (now most of a full-size image's time).
#: A candidate classifier that records its own number (SYMMETRIES_META) sets it
#: for its weights: the coarse weights' says 2 (benchmarks/choose_views.py).
SEGMENTATOR_SYMMETRIES = 8
#: The 7 further views run only where the first view's probability reaches this (0 = everywhere in
#: the flagged region). Ours (issue 16): on real tissue the flagged region is large and nearly all of
#: it scores ~0 in every view. At or below CANDIDATE_THRESHOLD it cannot drop a listed calcification.
SYMMETRY_REFINE_ABOVE = 0.0
#: Time budget per image in seconds (None = no budget). Ours (issue 16): the 8-view average is most
#: of an image's time and grows with the flagged region (noisy film flags much of the breast). With a
#: budget, each further view runs only if the previous view's time still fits before the budget is
#: spent; the first view always runs, so at worst the result is the single-view map. The JSON's
#: ``symmetry_views`` says how many views ran. Off by default: on the evaluation sets the slowest
#: image takes at most 3.0x its set's median without it, and a cut changes the decisions.
TIME_BUDGET_S: float | None = None
#: A listed calcification whose probability spreads at least this much over the symmetry views
#: (standard deviation at its peak; 0 = all views agree, 0.5 = they split) is "uncertain": its
#: sub-threshold pixels form the optional "uncertain" segment of a label. Ours: on a demo image the
#: spread is 0.001 (median) for scores above 0.95 and 0.095 for scores of 0.2-0.6.
UNCERTAIN_SPREAD = 0.1
#: Where the networks run at inference: "auto" = the first CUDA device when there is one, else the
#: CPU; or any torch device name ("cpu", "cuda:1").
INFERENCE_DEVICE = "auto"
#: What runs the networks (the detector's windows, the segmentator's dense pass) on a CPU: "auto" =
#: ONNX Runtime where it is installed (it is in the one-command install), else PyTorch; "torch";
#: "onnxruntime". Ours: measured 2.6x faster on a 256 px block of the segmentator and the same
#: decisions (README, Benchmarks); on CUDA PyTorch always runs them.
INFERENCE_BACKEND = "auto"
INFERENCE_BACKENDS = ("auto", "torch", "onnxruntime")

#: Clusters: "more than 5 distinct MCs on cm^2" (Valvano 2019 sec. 3.1, after
#: Park et al. 2000). Implemented as DBSCAN cores: at least this many
#: calcifications within a circle of this area centred on one of them.
CLUSTER_MIN_CALCIFICATIONS = 6
CLUSTER_AREA_MM2 = 100.0


# --- Baseline: Luna-Lozoya shallow CNN (cluster presence; issue 19) -------------
#: A 1 cm^2 patch: "squares of area 144 x 144 pixels" (Luna-Lozoya sec. 3, INbreast at 0.07 mm).
CLUSTER_PATCH_PX = 144
#: Two 9 x 9 convolutions of 6 and 16 filters, no pooling between, global max pooling, one sigmoid
#: unit: 8,301 parameters (Luna-Lozoya sec. 3, Table 2).
CLUSTER_CNN_CHANNELS = (6, 16)
CLUSTER_CNN_KERNEL_PX = 9
#: BCE, Adam at 1e-3, minibatches of 64, up to 100 epochs, the epoch of best validation accuracy
#: kept (Luna-Lozoya Table 1 and sec. 3).
CLUSTER_CNN_LEARNING_RATE = 1e-3
CLUSTER_CNN_BATCH_SIZE = 64
CLUSTER_CNN_MAX_EPOCHS = 100
#: Presence when the sigmoid reaches 0.5 (Luna-Lozoya sec. 3).
CLUSTER_CNN_THRESHOLD = 0.5
#: Stride of the cluster-probability map over the breast. The paper classifies given patches; ours:
#: half a patch, as the detector's windows (Valvano 2019 sec. 3.1) overlap.
CLUSTER_MAP_STRIDE_PX = 72
#: A training patch is positive when it holds at least this many calcifications of one cluster
#: (ours: the cluster definition's count, CLUSTER_MIN_CALCIFICATIONS; the paper's radiologist
#: judged each patch) and negative when it holds none.
CLUSTER_PATCH_MIN_CALCIFICATIONS = CLUSTER_MIN_CALCIFICATIONS


# --- Baseline: Marita et al.'s U-Net (pixel classification on 2^n ROIs; issue 19) --
#: ROIs of 2^n x 2^n pixels centred on the annotated findings, and tiles of the same size at
#: inference (Marita sec. III.A and IV). n = 7 here: 128 px = 9 mm at the 0.07 mm working pixel,
#: room for a calcification and the tissue around it. The paper's masses used 1024 px ROIs
#: downsampled by 4; calcifications are not downsampled (issue 19).
UNET_ROI_PX = 128
#: "an additional set of 4 images ... where the centres ... are shifted by a random value"
#: (Marita sec. III.A). The shift's range is ours: up to a quarter of the ROI on each axis, so the
#: finding stays inside.
UNET_SHIFTED_COPIES = 4
UNET_MAX_SHIFT_FRACTION = 0.25
#: ROIs at random breast positions per image (ours, not the paper's: its training set had findings
#: in every image; ours has normal images too, whose anatomy the network should see as background).
UNET_BACKGROUND_ROIS = 2
#: MONAI's UNet, five levels of strided convolutions. The paper's initial 32 filters and seven
#: levels (91 M parameters) are beyond these CPU cores; 16 filters doubling per level (0.66 M
#: parameters) train at about 0.1 s per batch of 8 here (measured, 2 cores).
UNET_CHANNELS = (16, 32, 64, 128, 256)
#: Adam, batch 8, up to 100 epochs, binary cross-entropy with weights on the few white pixels
#: (Marita sec. III.B; the learning rate is Keras's default, 1e-3, which the paper does not change).
UNET_LEARNING_RATE = 1e-3
UNET_BATCH_SIZE = 8
UNET_MAX_EPOCHS = 100
#: Weight of a calcification pixel in the loss: the square root of the training ROIs'
#: background-to-calcification pixel ratio, at most this ("giving different weights to black and
#: white pixels", Marita sec. III.B, which gives no figure). Ours: the full ratio (about 160 in the
#: tests' images) pushes the 0.5 boundary far beyond the calcification; measured there after 4
#: epochs, validation Dice 0.13 with the full ratio, 0.41 with 10, 0.16 unweighted.
UNET_MAX_POSITIVE_WEIGHT = 100.0
#: The prediction is binarised at 0.5 (Marita sec. IV, "binarized predictions"); lower maxima down
#: to CANDIDATE_THRESHOLD are listed as candidates so that a FROC curve can be swept.
UNET_THRESHOLD = 0.5
#: Masses (Marita's own use): ROIs of 1024 px of CBIS-DDSM film (about 0.05 mm) downsampled by 4
#: (Marita sec. III.A), i.e. 256 px at 0.2 mm, which is mini-MIAS's own pixel (MIAS's 50 um reduced
#: by 4), the only mass annotations this project may use.
MASS_WORKING_SPACING_MM = 0.2
MASS_ROI_PX = 256
#: Mass candidates below the operating threshold are listed only this far from a mass (ours; a
#: mass is millimetres wide, so the calcifications' 0.28 mm rim would list its own halo).
MASS_CANDIDATE_RIM_MM = 2.0


# --- Baseline: Cortina et al.'s first pipeline (morphology, features, SVM cascade; issue 19) --
#: The opening's disc: wider than the calcifications the report targets (under 1 mm, "~14 pixels in
#: diameter" at INbreast's 0.07 mm, Cortina sec. 1), so that the opening removes them (ours: the
#: report gives no size).
CORTINA_OPENING_RADIUS_PX = 8
#: "two consecutive global thresholds based on 95 ... and 80 quantiles" (Cortina sec. 2.1.4, GM-95):
#: of the top-hat, then of the image (our reading; see mcseg/baselines/cortina/candidates.py).
CORTINA_QUANTILES = (0.95, 0.80)
#: Candidates inside the breast only, "filtering the ones present in the breast border" (sec. 2.1.4);
#: the border's width is ours.
CORTINA_BORDER_MM = 1.0
#: Area, enclosing-circle radius and spacing filters (sec. 2.1.4 names them, not their values; ours:
#: a calcification under 1 mm, 2 px at least, and candidates a patch's half-width apart).
CORTINA_MIN_AREA_PX = 2
CORTINA_MAX_AREA_PX = 160
CORTINA_MAX_RADIUS_PX = 7.0
CORTINA_MIN_DISTANCE_PX = 7.0
#: "features ... extracted from the 14x14 patch around each candidate" (sec. 2.2).
CORTINA_PATCH_PX = 14
#: A candidate is a true positive when the circle of 14 px diameter at its centre meets the ground
#: truth (sec. 2.1.5).
CORTINA_HIT_DIAMETER_PX = 14
#: First cascade stage: the threshold that keeps 98% of the validation positives (sec. 2.3).
CORTINA_STAGE1_SENSITIVITY = 0.98
#: Training candidates per image at most (negatives drawn at random; every positive kept) and in all,
#: so that an RBF-SVM trains in minutes on 2 cores (ours).
CORTINA_MAX_NEGATIVES_PER_IMAGE = 150
CORTINA_MAX_TRAINING_SAMPLES = 12000

# --- Cortina et al., pipeline 2: detection by classification (issue 19; report sec. 2.3.1) ------

#: "16x16 patch wise classification with our specifically tailored ResNet based network applied in a
#: sliding window fashion with stride of 8 and Gaussian smoothing of the saliency map with kernel size
#: of 9" (the report's best variant of the pipeline), at its pixel (INbreast's 0.07 mm).
CORTINA_RESNET_PATCH_PX = 16
CORTINA_RESNET_STRIDE_PX = 8
CORTINA_RESNET_SMOOTHING_KERNEL_PX = 9
#: "For images of size 16x16 only N=2 downsampling stages were used" (Figure 16); the stage widths
#: and the fully connected layer are ours (the report gives neither): small enough for 2 CPU cores.
CORTINA_RESNET_WIDTHS = (16, 32, 64)
CORTINA_RESNET_FC_UNITS = 64
#: Dropout before the output and GELU on the fully connected layer (report, Appendix 2).
CORTINA_RESNET_DROPOUT = 0.5
#: Detections: local maxima of the saliency map "using a window of 14x14 pixels", each a 14 x 14 box.
CORTINA_RESNET_PEAK_WINDOW_PX = 14
#: Training patches per image: every calcification centred (the report's positives), with this many
#: copies shifted by up to 2 px (ours: a stride-8 window rarely centres a calcification exactly), and
#: this many negatives at random breast positions whose patch holds no calcification pixel (ours).
CORTINA_RESNET_POSITIVE_COPIES = 4
CORTINA_RESNET_NEGATIVES_PER_IMAGE = 200
#: Adam; the report's 1e-4 was for networks started from pretrained weights, ours start from scratch
#: (ours: 1e-3). Batches of 128, half positive (ours).
CORTINA_RESNET_LEARNING_RATE = 1e-3
CORTINA_RESNET_BATCH_SIZE = 128

# --- Cortina et al., pipeline 3: a CNN detector on sliding windows (issue 19; report sec. 2.3.2) -----

#: "applied in sliding window fashion on patches of 224x224 with stride of 200 fusing all detections and
#: finally applying non-maxima suppression with 0.5 IoU threshold"; trained on "224x224 patches,
#: extracted from the original image using a stride of 100 with only patches containing MCs";
#: "ground truth bounding boxes were defined as 14x14 squares around the center of every lesion";
#: anchors "14x14 size and the aspect ratio of 1:1"; batch size 6 (Appendix 3).
CORTINA_DETECTOR_PATCH_PX = 224
CORTINA_DETECTOR_INFER_STRIDE_PX = 200
CORTINA_DETECTOR_TRAIN_STRIDE_PX = 100
CORTINA_DETECTOR_BOX_PX = 14
CORTINA_DETECTOR_NMS_IOU = 0.5
CORTINA_DETECTOR_BATCH_SIZE = 6
#: At most this many training windows per image, drawn at random (ours: keeps the windows of a
#: 300-image training folder in memory, about 0.5 GB).
CORTINA_DETECTOR_WINDOWS_PER_IMAGE = 8
#: Channels of every feature pyramid level (ours: small enough for 2 CPU cores).
CORTINA_DETECTOR_FPN_CHANNELS = 32
#: Adam at the report's 1e-4 (with its StepLR replaced by keeping the best epoch: our runs are
#: minutes on a CPU, not 10-15 epochs of the report's data on a GPU).
CORTINA_DETECTOR_LEARNING_RATE = 1e-4


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of one patch CNN (Valvano 2019 sec. 3.4)."""

    patch_size_px: int = PATCH_SIZE_PX
    padding: str = "same"
    conv_channels: tuple[int, ...] = CONV_CHANNELS
    fc_units: int = FC_UNITS
    dropout: float = DROPOUT

    def __post_init__(self) -> None:
        if self.padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', not {self.padding!r}")
        if len(self.conv_channels) != 6:
            raise ValueError("the paper's network has exactly 6 convolutions")
        if self.patch_size_px % 2 == 0 or self.patch_size_px < 21:
            raise ValueError("patch_size_px must be odd (a centre pixel) and >= 21")


    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "NetworkConfig":
        """The architecture as stored in a checkpoint (JSON turns the channel tuple into a list)."""
        cfg = dict(values)
        cfg["conv_channels"] = tuple(cfg["conv_channels"])
        return cls(**cfg)


@dataclass(frozen=True)
class PipelineConfig:
    """Inference settings; every field has the default documented above."""

    #: None = not set: the value the weights were trained or calibrated with,
    #: else WORKING_SPACING_MM / OPERATING_THRESHOLD (see :meth:`resolved`). An
    #: explicit value always wins, even one equal to the default.
    working_spacing_mm: float | None = None
    #: Inputs whose own pixel is at least this go to the coarse weights where they are shipped. A site
    #: whose 0.06-0.08 mm images are film sets 0.08.
    coarse_input_min_spacing_mm: float = COARSE_INPUT_MIN_SPACING_MM
    #: Native FFDM from RETRAINED_FINE_MAX_SPACING_MM up to this pixel goes to the native networks alone
    #: (NATIVE_ALONE_BELOW_MM; None: to the coarse weights).
    native_alone_below_mm: float | None = NATIVE_ALONE_BELOW_MM
    #: Which inputs of that band: NATIVE_ALONE_INPUT_KINDS (NATIVE_ALONE_INPUTS).
    native_alone_inputs: str = NATIVE_ALONE_INPUTS
    #: The band's inputs that name no detector, and those of NATIVE_BAND_FROM_MM up to the band, to the native
    #: networks with their band classifier (NATIVE_BAND_CLASSIFIER), where native_alone_inputs is "detector";
    #: False: the band's to the coarse weights, the finer ones to the native networks with their own classifier.
    native_band_classifier: bool = NATIVE_BAND_CLASSIFIER
    #: Outline what the coarse weights keep with the 0.07 mm segmentator (FINE_OUTLINE).
    fine_outline: bool = FINE_OUTLINE
    #: The segmentator score at which a kept calcification's own mask is drawn, at least the operating
    #: threshold (which lists the candidates); None: the value calibrated into the weights
    #: (OUTLINE_THRESHOLD_META), else the operating threshold. Where the fine outline redraws the mask,
    #: it starts from the operating threshold's.
    outline_threshold: float | None = None
    fallback_spacing_mm: float = FALLBACK_SPACING_MM
    detector_threshold: float = DETECTOR_THRESHOLD
    max_flagged_share: float = MAX_FLAGGED_SHARE
    operating_threshold: float | None = None
    candidate_threshold: float = CANDIDATE_THRESHOLD
    fragment_gap_mm: float = FRAGMENT_GAP_MM
    candidate_rim_mm: float = CANDIDATE_RIM_MM
    candidate_peak_separation_mm: float | None = CANDIDATE_PEAK_SEPARATION_MM
    cluster_min_calcifications: int = CLUSTER_MIN_CALCIFICATIONS
    cluster_area_mm2: float = CLUSTER_AREA_MM2
    segmentator_path: str = "dense"   # "dense" (fast) or "reference" (one patch per pixel)
    #: None: as many as the candidate classifier was fitted with (SYMMETRIES_META), else SEGMENTATOR_SYMMETRIES.
    segmentator_symmetries: int | None = None
    symmetry_refine_above: float = SYMMETRY_REFINE_ABOVE
    time_budget_s: float | None = TIME_BUDGET_S
    device: str = INFERENCE_DEVICE
    backend: str = INFERENCE_BACKEND
    batch_size: int = 512
    normalise_laterality: bool = True
    #: Rescore the candidates with the second-stage classifier when the weights have one.
    use_candidate_classifier: bool = True
    #: The classifier's probability that puts a candidate in the mask; None: the threshold calibrated
    #: into the classifier (1 false positive per typical mammogram on its validation images). Lower
    #: finds more calcifications and clusters for more false positives (README, the operating point).
    classifier_threshold: float | None = None
    #: Candidates scored at least this by the classifier (below its operating threshold) join the
    #: mask where they form a cluster; None: the threshold calibrated into the classifier, where it
    #: has one (at CLUSTER_CALIBRATION_FP false positives per typical mammogram); 1: never.
    cluster_threshold: float | None = None

    def resolved(self, working_spacing_mm: float | None = None,
                 operating_threshold: float | None = None) -> "PipelineConfig":
        """Fill the fields left unset: from the weights' values when given, else the defaults."""
        return replace(
            self,
            working_spacing_mm=self.working_spacing_mm if self.working_spacing_mm is not None
            else (working_spacing_mm if working_spacing_mm is not None else WORKING_SPACING_MM),
            operating_threshold=self.operating_threshold if self.operating_threshold is not None
            else (operating_threshold if operating_threshold is not None else OPERATING_THRESHOLD),
        )

    def with_(self, **changes: Any) -> "PipelineConfig":
        """A copy with the given fields changed; None leaves a field as it is."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known and v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """Training recipe of Valvano 2019 sec. 3.3-3.4, plus CPU-sized step counts (ours)."""

    learning_rate: float = LEARNING_RATE
    batch_size: int = BATCH_SIZE
    max_steps: int = MAX_STEPS
    validate_every: int = VALIDATE_EVERY
    plateau_patience: int = PLATEAU_PATIENCE
    lr_plateau_factor: float = LR_PLATEAU_FACTOR
    early_stopping_patience: int = EARLY_STOPPING_PATIENCE
    validation_patches: int = VALIDATION_PATCHES
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_steps", "validate_every", "batch_size", "validation_patches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ValueError(f"learning_rate must be a number between 0 and 1, not {self.learning_rate!r}")
        for name in ("plateau_patience", "early_stopping_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
