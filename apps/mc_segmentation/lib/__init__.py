"""MONAI Label adapter over the mcseg core package."""
