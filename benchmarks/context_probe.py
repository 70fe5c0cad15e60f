"""Does a look at each candidate's surroundings rank the coarse route's candidates better? (issue 15; a
probe: no rule, it chooses and ships nothing)

    .venv/bin/python benchmarks/context_probe.py     # about 10 minutes here

Why: at low false-positive rates the coarse route's ranking, its candidate classifier over 24 measured
features, decides what is found on real digital anatomy, and issue 15 names a second stage with more
context (Bria et al.'s cascades, Wang and Yang's context-sensitive network) as the precedent. Here:

* the candidates of the coarse networks (2 views, no classifier) on the images of the shipped coarse
  classifier (runs/coarse-classifier-2/data and the 24 coarse vendor crops of runs/vendor-fold), labelled
  as the evaluation matches them, the vendor files' own calcifications left out;
* a 6.3 mm square around each candidate (45 x 45 px at 0.14 mm, resampled from the input, each patch
  centred on its median and scaled by its spread), and a small CNN (3 convolutions) trained on the
  training images' candidates (the classifier's split by image, seed 0, the 8 turns and mirrors);
* on the validation images' candidates: sensitivity at 0.25-4 false positives per image of the MLP on
  the features (fitted as the shipped classifier, fit_classifier), of the CNN alone, of the two
  combined (the mean of their log-odds), and of an MLP fitted as the shipped one on the features plus
  the CNN's log-odds ("stacked"; on the training images the log-odds of CNNs trained on the other half
  of them, two folds by image, so the MLP does not learn from a CNN's own training candidates).

Writes benchmarks/context_probe.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from torch import nn
from tqdm import tqdm

from mcseg.defaults import PipelineConfig
from mcseg.evaluation.froc import froc
from mcseg.io import read_mammogram
from mcseg.pipeline import DEFAULT_COARSE_WEIGHTS_DIR, Pipeline
from mcseg.training.candidate_classifier import fit_classifier

import vendor_fold_classifier as vf

ROOT = Path(__file__).resolve().parent.parent
PATCH_MM, PATCH_PX = 6.3, 45
FOLDERS = [ROOT / "runs" / "coarse-classifier-2" / "data", ROOT / "runs" / "vendor-fold" / "train-ge",
           ROOT / "runs" / "vendor-fold" / "train-siemens"]


def patches_of(image: np.ndarray, spacing_mm: tuple, centres_px: np.ndarray) -> np.ndarray:
    """(n, PATCH_PX, PATCH_PX) squares of PATCH_MM around each centre (row, col), robustly normalised."""
    offsets_mm = (np.arange(PATCH_PX) - PATCH_PX // 2) * (PATCH_MM / PATCH_PX)
    rr = offsets_mm[:, None] / spacing_mm[0]
    cc = offsets_mm[None, :] / spacing_mm[1]
    out = np.empty((len(centres_px), PATCH_PX, PATCH_PX), np.float32)
    img = image.astype(np.float32)
    for i, (r, c) in enumerate(centres_px):
        coords = np.stack([np.broadcast_to(r + rr, (PATCH_PX, PATCH_PX)), np.broadcast_to(c + cc, (PATCH_PX, PATCH_PX))])
        p = ndi.map_coordinates(img, coords, order=1, mode="nearest")
        med = np.median(p)
        spread = np.median(np.abs(p - med)) * 1.4826 + 1e-3
        out[i] = (p - med) / spread
    return np.clip(out, -20, 20)


class ContextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def augment(x: torch.Tensor) -> torch.Tensor:
    k = int(torch.randint(4, (1,)))
    x = torch.rot90(x, k, (2, 3))
    return torch.flip(x, (3,)) if torch.rand(1) < 0.5 else x


def train_cnn(x: np.ndarray, y: np.ndarray, epochs: int = 6, seed: int = 0) -> ContextCNN:
    torch.manual_seed(seed)
    model = ContextCNN()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    pos_weight = torch.tensor(float((~y).sum()) / max(float(y.sum()), 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    xt, yt = torch.from_numpy(x[:, None]), torch.from_numpy(y.astype(np.float32))
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(order), 256):
            idx = order[i : i + 256]
            opt.zero_grad()
            loss = loss_fn(model(augment(xt[idx])), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(xt):.4f}", flush=True)
    return model.eval()


@torch.no_grad()
def logits_of(model: ContextCNN, x: np.ndarray) -> np.ndarray:
    xt = torch.from_numpy(x[:, None])
    views = [torch.rot90(xt, k, (2, 3)) for k in range(4)]  # the 4 turns averaged, as the networks' views
    return np.mean([np.concatenate([model(v[i : i + 1024]).numpy() for i in range(0, len(v), 1024)]) for v in views], 0)


def main() -> None:
    torch.set_num_threads(2)
    pipeline = Pipeline.from_weights(DEFAULT_COARSE_WEIGHTS_DIR / "detector.pt", DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt",
                                     config=PipelineConfig(segmentator_symmetries=2), classifier_path=None, coarse_dir=None)
    found, patches = [], []
    for folder in FOLDERS:
        images = sorted(folder.glob("*.dcm"))
        items = vf.harvest_scored(pipeline, images, folder)
        for item, path in zip(tqdm(items, desc=f"patches {folder.name}"), images):
            mammo = read_mammogram(path)
            _, keep = vf._match(item, item["features"][:, 0] if len(item["features"]) else np.zeros(0))
            patches.append(patches_of(mammo.pixels, mammo.spacing_mm,
                                      item["centroids"])[keep])
        found += items
    harvest = vf.as_harvest(found)
    x = np.concatenate(patches)
    assert len(x) == len(harvest.hits), (len(x), len(harvest.hits))
    train_images, val_images = harvest.split_images()
    train = np.isin(harvest.image, train_images)
    print(f"{len(x)} candidates ({int(harvest.hits.sum())} hits), {len(train_images)} training and "
          f"{len(val_images)} validation images", flush=True)
    mlp, _ = fit_classifier(harvest)
    cnn = train_cnn(x[train], harvest.hits[train])
    p_mlp = np.clip(mlp.predict(harvest.features), 1e-6, 1 - 1e-6)
    l_cnn = logits_of(cnn, x)
    # Stacked: out-of-fold log-odds on the training images (two folds by image), the full CNN's elsewhere.
    l_oof = l_cnn.copy()
    halves = (train_images[::2], train_images[1::2])
    for k, held in enumerate(halves):
        fit_on = np.isin(harvest.image, halves[1 - k])
        l_oof[np.isin(harvest.image, held)] = logits_of(train_cnn(x[fit_on], harvest.hits[fit_on], seed=k + 1),
                                                        x[np.isin(harvest.image, held)])
    stacked_harvest = vf.Harvest(np.column_stack([harvest.features, l_oof]).astype(np.float32), harvest.hits,
                                 harvest.image, harvest.ids, harvest.n_truth)
    stacked, _ = fit_classifier(stacked_harvest)
    p_stacked = stacked.predict(stacked_harvest.features)
    scores = {"MLP on the features (as shipped)": p_mlp, "context CNN alone": l_cnn, "stacked": p_stacked,
              "both (mean log-odds)": (np.log(p_mlp / (1 - p_mlp)) + l_cnn) / 2,
              "segmentator score": harvest.features[:, 0]}
    vendor = np.array([harvest.ids[i].startswith(("ge-", "siemens-")) for i in harvest.image])
    out = {"candidates": int(len(x)), "hits": int(harvest.hits.sum()),
           "images": {"train": int(len(train_images)), "val": int(len(val_images))}, "validation": {}}
    for name, s in scores.items():
        row = {}
        for subset, sel_images in (("all", val_images),
                                   ("vendor crops", [i for i in val_images if harvest.ids[i].startswith(("ge-", "siemens-"))])):
            ms = []
            for i in sel_images:
                sel = harvest.image == i
                ms.append(vf.ImageMatch(s[sel], harvest.hits[sel], int(harvest.n_truth[i])))
            curve = froc(ms)
            row[subset] = {f"{f:g}": round(float(curve.sensitivity_at(f)), 4) for f in vf.FPPI}
        out["validation"][name] = row
        print(name, json.dumps(row), flush=True)
    out["vendor_candidates_val"] = int((vendor & ~train).sum())
    (ROOT / "benchmarks" / "context_probe.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
