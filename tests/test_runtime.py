"""Process-wide allocator setting: freed arrays are reused from the heap, not faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
from mcseg.runtime import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
faults = 0
for size in (1 << 17, 1 << 18, 1 << 19):      # 1, 2 and 4 MB of float64, as the pipeline's blocks
    np.ones(size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        block = np.ones(size)
        del block
    faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_arrays_are_reused_not_faulted_in_again():
    faults = {mode: int(subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True,
                                       text=True).stdout.split()[-1]) for mode in ("default", "tuned")}
    assert faults["default"] >= 100, faults          # glibc's defaults hand freed memory back
    assert faults["tuned"] * 5 < faults["default"], faults
