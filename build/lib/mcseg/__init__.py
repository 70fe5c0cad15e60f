"""mcseg: two-stage CNN detection and segmentation of breast microcalcifications.

The core package behind the mc_segmentation MONAI Label app. It knows nothing of
HTTP or MONAI Label; the pipeline's stages are its sub-packages:

    io             read mammograms (DICOM, PNG/TIFF, NRRD/NIfTI) and labels, write results
    preprocess     stage 1: Otsu breast mask, laterality, working resolution, intensities
    detector       stage 2: N x N windows overlapped by N/2, classified by the detector CNN
    segmentator    stage 3: per-pixel classification of the flagged windows (dense and reference)
    calcifications stage 4: connected components and clusters in physical units
    networks       the patch CNN shared by detector and segmentator
    patches        patch classes C1-C4, their sampling, the SQLite store, balanced minibatches
    training       the training loop, hard-negative mining, calibration, the training recipe
    evaluation     matching, FROC, overlap, per-class patch error, reports
    activelearning uncertainty of C2/C3 patches for choosing what to annotate
    synth          synthetic mammograms with exact ground truth
    data           the demo images `mcseg demo` segments

Imports run one way: io <- preprocess <- detector/segmentator/calcifications <-
pipeline <- evaluation <- training; nothing here imports MONAI Label or HTTP.
"""

__version__ = "0.1.0"
