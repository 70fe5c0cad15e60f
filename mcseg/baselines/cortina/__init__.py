"""Cortina et al.'s first pipeline (image analysis and machine learning): grayscale-morphology (or
difference-of-Gaussians) candidates, hand-crafted features of the 14 x 14 px patch around each, and a
cascade of two RBF support-vector machines."""
