"""mcseg: two-stage CNN detection and segmentation of breast microcalcifications.

The core package behind the mc_segmentation MONAI Label app. It knows nothing of
HTTP or MONAI Label; the pipeline's stages are its sub-packages:

    io            read mammograms (DICOM, PNG/TIFF, NRRD/NIfTI), write results
    breast        Otsu breast/background separation
    detector      N x N windows overlapped by N/2, classified by the detector CNN
    segmentator   per-pixel classification of the flagged windows (dense and reference)
    calcifications connected components and clusters in physical units
    patches       patch classes C1-C4 and the SQLite patch store
    networks      the patch CNN shared by detector and segmentator
    training      the training loop
    synth         synthetic mammograms with exact ground truth
"""

__version__ = "0.1.0"
